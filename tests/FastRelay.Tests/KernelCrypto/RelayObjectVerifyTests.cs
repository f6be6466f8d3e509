using FastRelay.Bpf;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Runtime;
using Xunit;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.KernelCrypto;

/// <summary>`fastrelay verify` on the relay object with encrypted slots: each program is loaded on its own, except that
/// the tail call's target (fr_subscriber_egress_seal, named by the statically initialised fr_enc_progs) must come along,
/// or libbpf refuses the object; <see cref="ProgramVerifier"/> adds it when libbpf names it.</summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class RelayObjectVerifyTests(GeneratedObjects objects)
{
    [BpfFact]
    public void Every_program_of_the_relay_object_with_encrypted_slots_gets_its_own_verdict_and_is_accepted()
    {
        var verdicts = ProgramVerifier.VerifyObject(objects.ObjectPath(G.Protocol));
        Assert.Equal(["quic_install_keys", "fr_upstream_ingress", "fr_subscriber_egress_seal", "fr_subscriber_egress", "fr_subscriber_ingress"],
            verdicts.Select(v => v.Name));
        Assert.All(verdicts, v => Assert.True(v.Accepted, $"{v.Name}: {v.Error}"));
        Assert.All(verdicts, v => Assert.True(v.VerifiedInstructions is > 0 and < 1_000_000, $"{v.Name}: {v.VerifiedInstructions}"));
    }
}
