import { LightningElement } from "lwc";
import getOpenGaps from "@salesforce/apex/ComplianceDashboardController.getOpenGaps";
import {
  overdueGaps,
  sortBySeverity,
  summariseByFramework
} from "./gapMetrics";

export default class ComplianceDashboard extends LightningElement {
  gaps = [];
  summary = [];
  overdueCount = 0;
  error;

  async connectedCallback() {
    try {
      const gaps = await getOpenGaps({ maxRows: 200 });
      this.gaps = sortBySeverity(gaps);
      this.summary = summariseByFramework(gaps);
      this.overdueCount = overdueGaps(gaps, new Date()).length;
      this.error = undefined;
    } catch (error) {
      this.error = error?.body?.message || String(error);
    }
  }

  get hasGaps() {
    return this.gaps.length > 0;
  }
}
