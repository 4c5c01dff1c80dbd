"""The scanner never raises on broken input: random edits of a realistic class still give a report."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cutover.checks.apex import ScanConfig, scan_source

SAMPLE = """@SuppressWarnings('cutover:sharing-not-declared')
public class GapService {
    private static final String BASE = 'SELECT Id, Name FROM Compliance_Gap__c';
    @AuraEnabled(cacheable=true)
    public static List<Compliance_Gap__c> open(String framework, Integer maxRows) {
        String q = BASE + ' WHERE Framework__c = \\'' + framework + '\\' LIMIT ' + maxRows;
        List<Compliance_Gap__c> rows = Database.query(q);
        return rows;
    }
    public void close(List<Compliance_Gap__c> gaps) {
        if (!Schema.sObjectType.Compliance_Gap__c.isUpdateable()) { return; }
        for (Compliance_Gap__c g : gaps) { g.Status__c = 'Closed'; }
        update as user gaps;
        delete [SELECT Id FROM Evidence__c WHERE Gap__c IN :gaps];
    }
    public class Row { public String name; }
}
"""

edits = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=len(SAMPLE)),
        st.integers(min_value=0, max_value=40),
        st.sampled_from(
            ["", "{", "}", "(", ")", "[", "]", ";", "'", "+", "=", ".", "\n", ":", "@", "insert ", "WITH "]
        ),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None, database=None)  # no .hypothesis/ folder in the tree
@given(edits)
def test_random_edits_never_crash(changes: list[tuple[int, int, str]]) -> None:
    text = SAMPLE
    for at, length, insert in changes:
        at = min(at, len(text))
        text = text[:at] + insert + text[at + length :]
    report = scan_source(text, "GapService.cls", ScanConfig(skip_test_classes=False))
    assert report.files == 1
    for finding in report.findings:
        assert finding.line >= 1 and finding.column >= 1


def test_the_unedited_sample_has_the_expected_findings() -> None:
    report = scan_source(SAMPLE, "GapService.cls")
    assert [(f.rule, f.line) for f in report.findings] == [
        ("soql-injection", 6),
        ("soql-not-enforced", 7),
        ("aura-without-strip", 8),
        ("soql-not-enforced", 14),  # the delete is covered by the isUpdateable() check on line 11
    ]
    assert report.errors == ()
