using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Model;

namespace FastRelay.Protocols.Moq.Relay.Routing;

/// <summary>
/// Published namespaces and namespace interests, matched by Namespace Prefix Matching (draft-19 §"Publisher
/// Interactions"). Methods return who to notify; callers notify outside the lock.
/// </summary>
internal sealed class NamespaceRegistry
{
    private readonly object _lock = new();
    private readonly NamespaceTrie<NamespaceRegistration> _published = new();
    private readonly NamespaceTrie<NamespaceInterest> _interests = new();

    public int PublishedCount { get { lock (_lock) return _published.ValueCount; } }
    public int InterestCount { get { lock (_lock) return _interests.ValueCount; } }
    public int NodeCount { get { lock (_lock) return _published.NodeCount + _interests.NodeCount; } }

    /// <summary>Registers a published namespace; returns the interests to send NAMESPACE to (first publisher of it only).</summary>
    public List<NamespaceInterest> Publish(NamespaceRegistration registration)
    {
        lock (_lock)
        {
            bool first = !_published.FindAtOrBelow(registration.Namespace, int.MaxValue)
                .Any(r => r.Namespace.Equals(registration.Namespace));
            _published.Add(registration.Namespace, registration);
            return first ? InterestsIn(registration) : [];
        }
    }

    /// <summary>Withdraws it; returns the interests to send NAMESPACE_DONE to (when no other publisher has it).</summary>
    public List<NamespaceInterest> Withdraw(NamespaceRegistration registration)
    {
        lock (_lock)
        {
            if (!_published.Remove(registration.Namespace, registration)) return [];
            bool last = !_published.FindAtOrBelow(registration.Namespace, int.MaxValue)
                .Any(r => r.Namespace.Equals(registration.Namespace));
            return last ? InterestsIn(registration) : [];
        }
    }

    private List<NamespaceInterest> InterestsIn(NamespaceRegistration registration) =>
        _interests.FindAtOrAbove(registration.Namespace).Where(i => i.Session != registration.Session).ToList();

    /// <summary>Publishers that can serve a track in <paramref name="ns"/>: longest matching prefix first, then oldest.</summary>
    public List<NamespaceRegistration> PublishersFor(MoqTrackNamespace ns)
    {
        lock (_lock) return _published.FindAtOrAbove(ns);
    }

    public bool HasPublisherFor(MoqTrackNamespace ns)
    {
        lock (_lock) return _published.FindAtOrAbove(ns).Count > 0;
    }

    /// <summary>Adds an interest; returns the distinct published namespaces under its prefix (at most <paramref name="limit"/>+1).</summary>
    public List<MoqTrackNamespace> AddInterest(NamespaceInterest interest, int limit)
    {
        lock (_lock)
        {
            _interests.Add(interest.Prefix, interest);
            return _published.FindAtOrBelow(interest.Prefix, limit + 1)
                .Where(r => r.Value.Session != interest.Session)
                .Select(r => r.Namespace).Distinct().ToList();
        }
    }

    public void RemoveInterest(NamespaceInterest interest)
    {
        lock (_lock) _interests.Remove(interest.Prefix, interest);
    }
}
