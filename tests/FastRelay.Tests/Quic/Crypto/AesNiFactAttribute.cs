using FastRelay.Protocols.Quic.Crypto;
using Xunit;

namespace FastRelay.Tests.Quic.Crypto;

/// <summary>A fact about the AES-NI/PCLMULQDQ code path: skipped, naming the missing CPU feature, where the CPU lacks it
/// (the packet protection then runs on the BCL, which the other crypto tests cover).</summary>
public sealed class AesNiFactAttribute : FactAttribute
{
    public AesNiFactAttribute()
    {
        if (!AesNiGcm.IsSupported) Skip = "CPU lacks AES-NI, PCLMULQDQ or SSSE3";
    }
}

/// <summary>The theory form of <see cref="AesNiFactAttribute"/>.</summary>
public sealed class AesNiTheoryAttribute : TheoryAttribute
{
    public AesNiTheoryAttribute()
    {
        if (!AesNiGcm.IsSupported) Skip = "CPU lacks AES-NI, PCLMULQDQ or SSSE3";
    }
}
