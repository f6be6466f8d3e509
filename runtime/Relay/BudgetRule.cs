namespace FastRelay.Relay;

/// <summary>A subscriber slot's byte budget as the kernel keeps it (fr_budget; see docs/generated-header.md, priority
/// drop): disabled = no limit.</summary>
public readonly record struct BudgetSetting(bool Enabled, long Bytes, uint ReservePerLevel, uint DropFromLevel);

/// <summary>
/// The priority-drop rule, the same one the kernel applies (bpf-templates/include/fr_budget.h), for the copies this
/// process makes itself (<see cref="UserspaceFanOut"/>, a protocol's own fallbacks): urgency 0 always passes; a less
/// urgent packet is dropped at or above the hard cut, or when it would leave less than <c>urgency × reserve</c> bytes.
/// Admitted packets debit the budget.
/// </summary>
public static class BudgetRule
{
    public static bool Admit(ref long bytes, in BudgetSetting setting, uint urgency, int length)
    {
        if (!setting.Enabled)
            return true;
        if (urgency != 0)
        {
            if (urgency >= setting.DropFromLevel)
                return false;
            if (bytes < length + (long)urgency * setting.ReservePerLevel)
                return false;
        }
        bytes -= length;
        return true;
    }
}
