"""The .forceignore matcher (gitignore syntax) that keeps ignored files out of a delta, as sf keeps them out."""

from __future__ import annotations

from cutover.delta.forceignore import ForceIgnore


def test_patterns() -> None:
    ignore = ForceIgnore(
        "# comment\n\n**/__tests__/**\n**/jsconfig.json\n/force-app/main/default/profiles/\n*.bak\n"
        "force-app/**/staticresources/tmp*\n!keep.bak\n"
    )
    assert ignore.ignored("force-app/main/default/lwc/card/__tests__/card.test.js")
    assert ignore.ignored("force-app/main/default/lwc/jsconfig.json")
    assert ignore.ignored("force-app/main/default/profiles/Admin.profile-meta.xml")  # a folder, anchored
    assert not ignore.ignored("other/main/default/profiles/Admin.profile-meta.xml")
    assert ignore.ignored("force-app/main/default/classes/Old.cls.bak")
    assert not ignore.ignored("force-app/main/default/classes/keep.bak")  # negated afterwards
    assert ignore.ignored("force-app/main/default/staticresources/tmpdata.resource-meta.xml")
    assert not ignore.ignored("force-app/main/default/staticresources/data.resource-meta.xml")
    assert not ignore.ignored("force-app/main/default/lwc/card/card.js")


def test_dir_only_pattern_does_not_match_a_file_of_that_name() -> None:
    ignore = ForceIgnore("build/\n")
    assert ignore.ignored("force-app/build/x.cls")
    assert not ignore.ignored("force-app/classes/build")
    assert not ForceIgnore("").ignored("force-app/classes/A.cls")
