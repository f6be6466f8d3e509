using FastRelay.Bpf;

namespace FastRelay.Relay;

/// <summary>
/// The clone tag of one relay instance (fr_config.clone_mark). Two relays on one host attach their egress programs to the
/// same devices; each must recognise only its own clones, so each instance needs a tag no other live instance has. The
/// kernel already numbers live programs uniquely: the tag is the low bits of the instance's upstream ingress program id.
/// Two live instances collide only if their program ids differ by a multiple of 2^16 (ids are handed out in increasing
/// order, so instances started within 65536 program loads of each other never do).
/// </summary>
public static class CloneMarks
{
    /// <summary>The tag in the bits of <paramref name="magicMask"/> (the generated FR_MARK_MAGIC_MASK, the high 16 bits),
    /// never 0 (which the kernel reads as "no tag written": the shared default).</summary>
    public static uint ForInstance(BpfProgram upstreamIngress, uint magicMask)
    {
        var shift = System.Numerics.BitOperations.TrailingZeroCount(magicMask);
        var width = System.Numerics.BitOperations.PopCount(magicMask);
        var tag = upstreamIngress.GetInfo().Id & ((1u << width) - 1);
        if (tag == 0)
            tag = 1;
        return tag << shift;
    }
}
