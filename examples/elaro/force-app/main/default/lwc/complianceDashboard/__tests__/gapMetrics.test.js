import {
  overdueGaps,
  sortBySeverity,
  summariseByFramework,
  toIsoDate
} from "../gapMetrics";

const gaps = [
  {
    Framework__c: "SOC2",
    Severity__c: "Low",
    Status__c: "Open",
    Due_Date__c: "2026-01-01"
  },
  {
    Framework__c: "HIPAA",
    Severity__c: "Critical",
    Status__c: "Open",
    Due_Date__c: "2027-01-01"
  },
  {
    Framework__c: "SOC2",
    Severity__c: "High",
    Status__c: "Closed",
    Due_Date__c: "2025-01-01"
  },
  { Severity__c: "Unknown", Status__c: "Open" }
];

describe("gapMetrics", () => {
  it("counts gaps per framework, sorted by name", () => {
    expect(summariseByFramework(gaps)).toEqual([
      { framework: "HIPAA", count: 1 },
      { framework: "SOC2", count: 2 },
      { framework: "Unassigned", count: 1 }
    ]);
  });

  it("lists open gaps past their due date", () => {
    expect(overdueGaps(gaps, "2026-06-01")).toEqual([gaps[0]]);
  });

  it("orders by severity, unknown last", () => {
    expect(sortBySeverity(gaps).map((gap) => gap.Severity__c)).toEqual([
      "Critical",
      "High",
      "Low",
      "Unknown"
    ]);
  });

  it("rejects invalid dates", () => {
    expect(() => toIsoDate("not a date")).toThrow("not a date");
    expect(toIsoDate(new Date("2026-03-04T10:00:00Z"))).toBe("2026-03-04");
  });
});
