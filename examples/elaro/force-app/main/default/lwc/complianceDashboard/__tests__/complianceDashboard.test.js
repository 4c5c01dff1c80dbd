import ComplianceDashboard from "../complianceDashboard";
import { __setResponse } from "@salesforce/apex/ComplianceDashboardController.getOpenGaps";

describe("c-compliance-dashboard", () => {
  it("loads, sorts and summarises open gaps", async () => {
    __setResponse([
      {
        Framework__c: "GDPR",
        Severity__c: "Low",
        Status__c: "Open",
        Due_Date__c: "2000-01-01"
      },
      { Framework__c: "GDPR", Severity__c: "Critical", Status__c: "Open" }
    ]);
    const dashboard = new ComplianceDashboard();
    await dashboard.connectedCallback();
    expect(dashboard.hasGaps).toBe(true);
    expect(dashboard.gaps[0].Severity__c).toBe("Critical");
    expect(dashboard.summary).toEqual([{ framework: "GDPR", count: 2 }]);
    expect(dashboard.overdueCount).toBe(1);
    expect(dashboard.error).toBeUndefined();
  });

  it("shows the server's message when Apex fails", async () => {
    const failure = new Error("boom");
    failure.body = {
      message: "Insufficient READABLE access on Compliance_Gap__c"
    };
    __setResponse(failure);
    const dashboard = new ComplianceDashboard();
    await dashboard.connectedCallback();
    expect(dashboard.hasGaps).toBe(false);
    expect(dashboard.error).toBe(
      "Insufficient READABLE access on Compliance_Gap__c"
    );
  });
});
