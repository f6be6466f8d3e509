using System.Numerics;

namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// The object plan of a synthetic video-like track: frame n (0, 1, 2, …) is due at n / fps; every GOP frames start a
/// group whose object 0 is the key object, <see cref="SyntheticTrackOptions.KeyFrameRatio"/> times the size of a delta
/// object; object ids are frame positions inside the group. Sizes are carried over from frame to frame (each frame gets
/// the bytes the track should have sent by its end, minus those already planned), so the bitrate holds over any whole
/// number of groups, not just on average; no object is smaller than <see cref="ObjectPayloadHeader.Size"/>, which
/// makes very low bitrates come out higher than asked (the report states the rate actually sent).
/// <para>Temporal layers (<see cref="SubgroupLayout.PerLayer"/> with L layers): the key frame is layer 0; delta frame i
/// is layer L-1-min(L-2, trailing zeros of i), the usual dyadic pyramid: with 3 layers the even deltas are layer 1 and
/// the odd ones layer 2, so dropping the top layer halves the frame rate and every remaining frame still decodes.
/// Layer k is subgroup k with publisher priority key + k × step.</para>
/// </summary>
public sealed class SyntheticTrack
{
    private readonly SyntheticTrackOptions _options;
    private readonly GopPosition[] _gop;
    private readonly double _bytesPerWeight;
    private readonly double _weightPerGop;

    private readonly record struct GopPosition(ulong Subgroup, byte Priority, double CumulativeWeightAfter, bool Opens, bool Closes);

    public SyntheticTrack(SyntheticTrackOptions options)
    {
        options.Validate();
        _options = options;
        var g = options.GopFrames;
        _weightPerGop = options.KeyFrameRatio + (g - 1);
        _bytesPerWeight = options.BitrateBitsPerSecond / 8.0 * g / options.FramesPerSecond / _weightPerGop;

        _gop = new GopPosition[g];
        var layers = new int[g];
        for (var i = 0; i < g; i++) layers[i] = LayerOf(i);
        var weight = 0.0;
        for (var i = 0; i < g; i++)
        {
            weight += i == 0 ? options.KeyFrameRatio : 1;
            var layer = layers[i];
            var opens = Array.IndexOf(layers, layer) == i;
            var closes = Array.LastIndexOf(layers, layer) == i;
            var priority = options.Layout == SubgroupLayout.PerGroup ? options.KeyPriority : (byte)(options.KeyPriority + layer * options.LayerPriorityStep);
            _gop[i] = new GopPosition((ulong)layer, priority, weight, opens, closes);
        }
    }

    public SyntheticTrackOptions Options => _options;

    /// <summary>The subgroup (= temporal layer; always 0 with <see cref="SubgroupLayout.PerGroup"/>) of GOP position i.</summary>
    public int LayerOf(int gopPosition)
    {
        if (_options.Layout == SubgroupLayout.PerGroup || gopPosition == 0) return 0;
        var l = _options.Layers;
        return l - 1 - Math.Min(l - 2, BitOperations.TrailingZeroCount(gopPosition));
    }

    /// <summary>Frame <paramref name="sequence"/> of the track.</summary>
    public PlannedObject At(ulong sequence)
    {
        var g = (ulong)_options.GopFrames;
        var groupIndex = sequence / g;
        var position = (int)(sequence % g);
        var p = _gop[position];
        var bytesBefore = Math.Round(CumulativeBytes(groupIndex, position - 1));
        var bytesAfter = Math.Round(CumulativeBytes(groupIndex, position));
        var size = (int)Math.Clamp(bytesAfter - bytesBefore, ObjectPayloadHeader.Size, int.MaxValue);
        var due = (long)Math.Round(sequence * 1_000_000.0 / _options.FramesPerSecond);
        return new PlannedObject(sequence, _options.FirstGroup + groupIndex, p.Subgroup, (ulong)position, p.Priority, size,
            position == 0, due, p.Opens, p.Closes);
    }

    /// <summary>Every frame from 0 on, without end (the caller stops on duration or count).</summary>
    public IEnumerable<PlannedObject> Objects()
    {
        for (ulong n = 0; ; n++) yield return At(n);
    }

    /// <summary>Bytes the track should have sent by the end of GOP position <paramref name="position"/> of group
    /// <paramref name="groupIndex"/> (position -1: by the group's start).</summary>
    private double CumulativeBytes(ulong groupIndex, int position) =>
        (groupIndex * _weightPerGop + (position < 0 ? 0 : _gop[position].CumulativeWeightAfter)) * _bytesPerWeight;
}
