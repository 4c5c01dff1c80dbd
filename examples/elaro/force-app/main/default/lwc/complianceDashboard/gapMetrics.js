// Pure functions behind the dashboard widgets, kept free of LWC imports so they are unit-testable.

const SEVERITY_ORDER = ["Critical", "High", "Medium", "Low"];

export function summariseByFramework(gaps) {
  const counts = {};
  for (const gap of gaps) {
    const framework = gap.Framework__c || "Unassigned";
    counts[framework] = (counts[framework] || 0) + 1;
  }
  return Object.keys(counts)
    .sort()
    .map((framework) => ({ framework, count: counts[framework] }));
}

export function overdueGaps(gaps, today) {
  const cutoff = toIsoDate(today);
  return gaps.filter(
    (gap) =>
      gap.Status__c !== "Closed" && gap.Due_Date__c && gap.Due_Date__c < cutoff
  );
}

export function sortBySeverity(gaps) {
  const rank = (gap) => {
    const index = SEVERITY_ORDER.indexOf(gap.Severity__c);
    return index === -1 ? SEVERITY_ORDER.length : index;
  };
  return [...gaps].sort((a, b) => rank(a) - rank(b));
}

export function toIsoDate(value) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new Error(`not a date: ${value}`);
  }
  return date.toISOString().slice(0, 10);
}
