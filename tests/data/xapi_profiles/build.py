"""Writes the real-shape statement files of tests/data/xapi_profiles/ and tests/data/caliper/.

Each statement has exactly the structure its publisher documents (keys, nesting, IRIs, extension names,
value types); the values (learners, courses, times, scores) are ours, so that a file tells one coherent
story: three learners in one course over a few days of November 2026. Sources:

- openedx.json: Open edX event-routing-backends, xAPI transformer test fixtures
  (event_routing_backends/processors/xapi/tests/fixtures/expected/*.json), actors in the account form;
- cmi5.json: the cmi5 specification's sample scenarios (AICC/CMI-5_Spec_Current, samples/scenarios/);
- video.json: the xAPI Video Profile (verbs, result and context extensions as the profile defines them);
- adl_tincan.json: ADL vocabulary and TinCan registry verbs in plain LRS statements;
- caliper/openedx.json: event-routing-backends' Caliper 1.2 transformer fixtures
  (event_routing_backends/processors/caliper/tests/fixtures/expected/*.json);
- caliper/spec.json: the IMS Caliper 1.2 specification's fixtures (fixtures/v1p2/caliperEvent*.json,
  caliperEnvelope*.json), in an envelope.

Run `python tests/data/xapi_profiles/build.py` to rewrite the files; the tests read the files, not this.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOST = "https://lms.devu.example"
COURSE = "course-v1:DevU+PY101+2026_T3"
LEARNERS = ("32e08e30-f8ae-4ce2-94a8-c2bfe38a70cb", "5b1f7a0e-3c44-4e6a-9d1e-7a2b9c0d4e11", "9c2d4e6f-8a1b-4c3d-b5e7-1f2a3b4c5d6e")
SESSIONS = ("054c9ddcb76d2096f862e66bda3bc308", "9be7677aefad3235abeb0241f2bea142", "056aca2a1c6b76742b283e73d3424453")
ADL, VIDEO, TINCAN = "http://adlnet.gov/expapi/verbs/", "https://w3id.org/xapi/video/verbs/", "http://id.tincanapi.com/verb/"
_ids = iter(uuid.UUID(int=i) for i in range(0x6d1f033b3f70458cb53ae6bb63cb0000, 0x6d1f033b3f70458cb53ae6bb63cbffff))


def _id() -> str:
    return str(next(_ids))


def block(kind: str, name: str) -> str:
    return f"block-v1:{COURSE.removeprefix('course-v1:')}+type@{kind}+block@{name}"


# --------------------------------------------------------------------------------------------- Open edX (xAPI)
def edx(verb: str, display: str, obj: dict, ts: str, learner: int = 0, result: dict | None = None,
        extensions: dict | None = None, parent: bool = True) -> dict:
    context = {"extensions": {"https://w3id.org/xapi/openedx/extension/transformer-version": "event-routing-backends@7.0.1",
                              "https://w3id.org/xapi/openedx/extensions/session-id": SESSIONS[learner], **(extensions or {})}}
    if parent:
        context["contextActivities"] = {"parent": [{
            "id": f"{HOST}/course/{COURSE}", "objectType": "Activity",
            "definition": {"name": {"en-US": "Python 101"}, "type": "http://adlnet.gov/expapi/activities/course"}}]}
    statement = {"id": _id(), "actor": {"objectType": "Agent", "account": {"homePage": HOST, "name": LEARNERS[learner]}},
                 "context": context, "object": {**obj, "objectType": "Activity"}, "timestamp": ts,
                 "verb": {"display": {"en": display}, "id": verb}, "version": "1.0.3"}
    if result is not None:
        statement["result"] = result
    return statement


def xblock(kind: str, name: str, type_: str, **definition) -> dict:
    return {"id": f"{HOST}/xblock/{block(kind, name)}", "definition": {"type": type_, **definition}}


def openedx_statements() -> list[dict]:
    course_obj = {"id": f"{HOST}/course/{COURSE}", "definition": {"name": {"en": "Python 101"}, "type": "http://adlnet.gov/expapi/activities/course"}}
    enrol_obj = {"id": f"{HOST}/courses/{COURSE}/", "definition": {"name": {"en": "Python 101"}, "type": "http://adlnet.gov/expapi/activities/course"}}
    problem = xblock("problem", "3fc5461f86764ad7bdbdf6cbdde61e66", "http://adlnet.gov/expapi/activities/cmi.interaction",
                     interactionType="choice", extensions={"http://id.tincanapi.com/extension/attempt-id": 1},
                     description={"en-US": "Which loop runs at least once?"})
    video = xblock("video", "0b9e39477cf34507a7a48f74be381fdd", "https://w3id.org/xapi/video/activity-type/video")
    length = {"https://w3id.org/xapi/video/extensions/length": 195.0}
    seq = xblock("sequential", "19a30717eff543078a5d94ae9d6c18a5", "http://id.tincanapi.com/activitytype/resource",
                 extensions={"https://w3id.org/xapi/acrossx/extensions/total-items": 10})
    thread = {"id": f"{HOST}/api/discussion/v1/threads/64abcdfee68f35002fd013c6", "definition": {"type": "http://id.tincanapi.com/activitytype/discussion"}}
    comment = {"id": f"{HOST}/api/discussion/v1/comments/64b7b640e68f350033690932", "definition": {"type": "http://id.tincanapi.com/activitytype/discussion"}}
    forum_ext = {"https://w3id.org/xapi/acrossx/extensions/type": "discussion"}
    day = "2026-11-16T"
    return [
        # enrolment (edx.course.enrollment.activated), one learner per statement
        *[edx(ADL + "registered", "registered", enrol_obj, f"{day}08:0{i}:01.917775+00:00", i, parent=False,
              extensions={"http://id.tincanapi.com/extension/referrer": f"{HOST}/courses/{COURSE}/about"}) for i in range(3)],
        # navigation (edx.ui.lms.sequence.next_selected, edx.ui.lms.link_clicked)
        edx("https://w3id.org/xapi/dod-isd/verbs/navigated", "navigated", seq, f"{day}08:10:42.424987+00:00",
            extensions={"http://id.tincanapi.com/extension/ending-point": "next unit", "http://id.tincanapi.com/extension/starting-position": 4}),
        edx(ADL + "experienced", "experienced", {"id": f"{HOST}/courses/{COURSE}/jump_to/{block('sequential', '6ab9c442501d472c8ed200e367b4edfa')}",
                                                "definition": {"name": {"en": "Loops"}, "type": "http://adlnet.gov/expapi/activities/link"}},
            f"{day}08:11:28.973761+00:00", 1),
        # video (load, play, pause, seek, speed change, complete, stop)
        edx(ADL + "initialized", "initialized", video, f"{day}08:12:07.277053+00:00", extensions=length),
        edx(VIDEO + "played", "played", video, f"{day}08:12:55.057000+00:00", result={"extensions": {"https://w3id.org/xapi/video/extensions/time": 0.033}}, extensions=length),
        edx(VIDEO + "paused", "paused", video, f"{day}08:14:09.649080+00:00", result={"extensions": {"https://w3id.org/xapi/video/extensions/time": 97.5}}, extensions=length),
        edx(VIDEO + "seeked", "seeked", video, f"{day}08:14:28.027485+00:00",
            result={"extensions": {"https://w3id.org/xapi/video/extensions/time-from": 97.5, "https://w3id.org/xapi/video/extensions/time-to": 150.0}}, extensions=length),
        edx(ADL + "interacted", "interacted", video, f"{day}08:14:44.581368+00:00",
            result={"extensions": {"https://w3id.org/xapi/openedx/extension/speed-from": "1.0x", "https://w3id.org/xapi/openedx/extension/speed-to": "1.25x"}}, extensions=length),
        edx(ADL + "completed", "completed", video, f"{day}08:15:41.543562+00:00",
            result={"extensions": {"https://w3id.org/xapi/video/extensions/time": 195.0}, "completion": True, "duration": "PT03M15S"}, extensions=length),
        edx(ADL + "terminated", "terminated", video, f"{day}08:15:50.100000+00:00", result={"extensions": {"https://w3id.org/xapi/video/extensions/time": 195.0}}, extensions=length),
        # problem check: browser (attempted, no result), server (evaluated, scored), then the graded submission
        # (edx.grades.problem.submitted: attempted with the same score) of the same check
        edx(ADL + "attempted", "attempted", {"id": problem["id"], "definition": {"type": "http://adlnet.gov/expapi/activities/cmi.interaction"}}, f"{day}08:20:26.580443+00:00"),
        edx("https://w3id.org/xapi/acrossx/verbs/evaluated", "evaluated", problem, f"{day}08:20:26.906232+00:00",
            result={"response": "['a do-while loop']", "score": {"max": 1, "min": 0, "raw": 1, "scaled": 1.0}, "success": True}),
        edx(ADL + "attempted", "attempted", {"id": problem["id"], "definition": {"type": "http://adlnet.gov/expapi/activities/question"}},
            f"{day}08:20:27.100909+00:00", result={"score": {"max": 1, "min": 0, "raw": 1, "scaled": 1.0}, "success": True}),
        edx("https://w3id.org/xapi/acrossx/verbs/evaluated", "evaluated", problem, f"{day}08:22:01.000000+00:00", 1,
            result={"response": "['a for loop']", "score": {"max": 1, "min": 0, "raw": 0, "scaled": 0.0}, "success": False}),
        # hint (edx.problem.hint.demandhint_displayed) and show answer (showanswer)
        edx(ADL + "asked", "asked", {"id": f"{problem['id']}/hint/1", "definition": {"type": "https://w3id.org/xapi/acrossx/extensions/supplemental-info"}},
            f"{day}08:23:37.404285+00:00", 1),
        edx(ADL + "asked", "asked", {"id": f"{problem['id']}/answer", "definition": {"type": "http://id.tincanapi.com/activitytype/solution"}},
            f"{day}08:23:57.810384+00:00", 1),
        # progress (edx.completion.block_completion.changed)
        edx(ADL + "progressed", "progressed", {"id": problem["id"], "definition": {"type": "http://id.tincanapi.com/activitytype/resource"}},
            f"{day}08:24:25.500832+00:00", result={"completion": True, "extensions": {"https://w3id.org/xapi/cmi5/result/extensions/progress": 100.0}}),
        # grades: a subsection (edx.grades.subsection.grade_calculated), the course (grade_calculated: not an outcome)
        edx(TINCAN + "earned", "earned", {"id": f"{HOST}/xblock/{block('sequential', 'a2184f8ebf9d478ba57edcc4f288854a')}",
                                          "definition": {"type": "http://id.tincanapi.com/activitytype/resource"}},
            "2026-11-17T20:37:44.920732+00:00", result={"score": {"scaled": 0.6667, "raw": 2.0, "min": 0.0, "max": 3.0}, "success": True}),
        edx(TINCAN + "earned", "earned", course_obj, "2026-11-17T20:37:45.526615+00:00",
            result={"score": {"scaled": 0.8, "raw": 0.8, "min": 0.0, "max": 1.0}, "extensions": {"http://www.tincanapi.co.uk/activitytypes/grade_classification": "Pass"}}),
        # forum: thread created, response created, edited, voted, reported, unreported, deleted, viewed
        edx("https://w3id.org/xapi/acrossx/verbs/posted", "posted", thread, "2026-11-17T09:23:10.354202+00:00", 1, extensions=forum_ext),
        edx("https://w3id.org/xapi/acrossx/verbs/posted", "posted", comment, "2026-11-17T10:26:30.857649+00:00", 2, extensions=forum_ext),
        edx("https://w3id.org/xapi/acrossx/verbs/edited", "edited", thread, "2026-11-17T09:30:00.000000+00:00", 1, extensions=forum_ext),
        edx("https://w3id.org/xapi/openedx/verb/voted", "voted", comment, "2026-11-17T11:02:30.857649+00:00", 0,
            extensions={"https://w3id.org/xapi/acrossx/extensions/type": "up"}),
        edx("https://w3id.org/xapi/acrossx/verbs/reported", "reported", comment, "2026-11-17T11:05:00.000000+00:00", 0, extensions=forum_ext),
        edx("https://w3id.org/xapi/openedx/verb/unreported", "unreported", comment, "2026-11-17T11:09:00.000000+00:00", 0, extensions=forum_ext),
        edx("https://w3id.org/xapi/dod-isd/verbs/deleted", "deleted", comment, "2026-11-17T12:00:00.000000+00:00", 2, extensions=forum_ext),
        edx(TINCAN + "viewed", "viewed", thread, "2026-11-17T12:10:00.000000+00:00", 0, extensions=forum_ext),
        # course outcomes (edx.course.grade.passed.first_time / now_failed), completion, unenrolment
        edx(ADL + "passed", "passed", course_obj, "2026-11-18T06:36:01.917775+00:00", 0, parent=False),
        edx(ADL + "failed", "failed", course_obj, "2026-11-18T06:36:02.917775+00:00", 1, parent=False),
        edx(ADL + "completed", "completed", enrol_obj, "2026-11-18T06:40:01.917775+00:00", 0, parent=False),
        edx(TINCAN + "unregistered", "unregistered", enrol_obj, "2026-11-18T07:39:23.898000+00:00", 2, parent=False),
    ]


# --------------------------------------------------------------------------------------------- cmi5
CMI5_COURSE = "https://lms.devu.example/cmi5/course/57c4917cbe43d6c230b85640e8abacdcb90e3db2"
AU = "https://lms.devu.example/cmi5/au-lms-id/4756b42214cb0cb4825b3c9b5c15053d6a6cf7f5"
AU_PUBLISHER = "http://course-repository.example.edu/identifiers/courses/02baafcf/aus/4c07"


def cmi5(verb: str, display: str, ts: str, learner: int, session: str, registration: str, result: dict | None = None,
         moveon: bool = False, extensions: dict | None = None, obj: dict | None = None, grouping: dict | None = None) -> dict:
    categories = [{"objectType": "Activity", "id": "https://w3id.org/xapi/cmi5/context/categories/cmi5"}]
    if moveon:
        categories.append({"objectType": "Activity", "id": "https://w3id.org/xapi/cmi5/context/categories/moveon"})
    names = {"name": {"en-US": "Introduction to Geology"}, "description": {"en-US": "The basics of geology."}}
    statement = {
        "id": _id(),
        "actor": {"objectType": "Agent", "name": f"Learner {learner}", "account": {"homePage": "https://lms.devu.example/", "name": f"geo-{learner}"}},
        "verb": {"id": verb, "display": {"en-US": display}},
        "object": obj or {"objectType": "Activity", "id": AU, "definition": dict(names)},
        "context": {"registration": registration,
                    "contextActivities": {"grouping": [grouping or {"objectType": "Activity", "id": AU_PUBLISHER, "definition": dict(names)}],
                                          "category": categories},
                    "extensions": {"https://w3id.org/xapi/cmi5/context/extensions/sessionid": session, **(extensions or {})}},
        "timestamp": ts,
    }
    if result is not None:
        statement["result"] = result
    return statement


def cmi5_statements() -> list[dict]:
    course = {"objectType": "Activity", "id": CMI5_COURSE, "definition": {
        "name": {"en-US": "Introduction to Geology"}, "description": {"en-US": "The basics of geology."},
        "type": "https://w3id.org/xapi/cmi5/activitytype/course"}}
    course_grouping = {"objectType": "Activity", "id": "http://course-repository.example.edu/identifiers/courses/02baafcf",
                       "definition": {"name": {"en-US": "Introduction to Geology"}, "type": "https://w3id.org/xapi/cmi5/activitytype/course"}}
    launch = {"https://w3id.org/xapi/cmi5/context/extensions/launchmode": "Normal",
              "https://w3id.org/xapi/cmi5/context/extensions/launchurl": "https://lms.devu.example/au/index.html",
              "https://w3id.org/xapi/cmi5/context/extensions/moveon": "CompletedAndPassed",
              "https://w3id.org/xapi/cmi5/context/extensions/launchparameters": ""}
    regs = ("4eb0e063-669b-479a-86b3-f9be9ac88a1d", "d1beacde-b5fa-4d90-a6e5-da523d93e83d")
    s1, s2, s3 = "c7b6f0a9-482c-4c03-acc1-548289126963", "54eb9f12-71d4-472d-a359-8c1184b5edbc", "3798c990-c602-4334-9c04-7f6196e5f869"
    progress = "https://w3id.org/xapi/cmi5/result/extensions/progress"
    return [
        # learner 1: a full session that passes and completes the AU, then the LMS satisfies the course
        cmi5(ADL + "launched", "launched", "2026-11-16T15:34:25.541Z", 1, s1, regs[0], extensions=launch),
        cmi5(ADL + "initialized", "initialized", "2026-11-16T15:34:26.887Z", 1, s1, regs[0]),
        cmi5(ADL + "progressed", "progressed", "2026-11-16T15:36:06.385Z", 1, s1, regs[0], result={"extensions": {progress: 50}}),
        cmi5(ADL + "answered", "answered", "2026-11-16T15:37:00.000Z", 1, s1, regs[0],
             obj={"objectType": "Activity", "id": f"{AU}/question/1", "definition": {"type": "http://adlnet.gov/expapi/activities/cmi.interaction", "interactionType": "true-false"}},
             result={"success": True, "response": "true"}),
        cmi5(ADL + "passed", "passed", "2026-11-16T15:38:44.335Z", 1, s1, regs[0], moveon=True,
             result={"score": {"scaled": 0.92, "raw": 92, "min": 0, "max": 100}, "success": True, "duration": "PT4M18S"},
             extensions={"https://w3id.org/xapi/cmi5/context/extensions/masteryscore": 0.86}),
        cmi5(ADL + "completed", "completed", "2026-11-16T15:38:45.244Z", 1, s1, regs[0], moveon=True,
             result={"completion": True, "duration": "PT4M19S"}),
        cmi5(ADL + "terminated", "terminated", "2026-11-16T15:39:43.401Z", 1, s1, regs[0], result={"duration": "PT5M17.86S"}),
        cmi5("https://w3id.org/xapi/adl/verbs/satisfied", "satisfied", "2026-11-16T15:39:44.559Z", 1, s1, regs[0],
             obj=course, grouping=course_grouping),
        # learner 2: fails first, abandons a session, then the LMS waives the AU
        cmi5(ADL + "launched", "launched", "2026-11-17T19:00:01.000Z", 2, s2, regs[1], extensions=launch),
        cmi5(ADL + "initialized", "initialized", "2026-11-17T19:00:02.150Z", 2, s2, regs[1]),
        cmi5(ADL + "progressed", "progressed", "2026-11-17T19:00:30.000Z", 2, s2, regs[1], result={"extensions": {progress: 25}}),
        cmi5(ADL + "failed", "failed", "2026-11-17T19:00:44.335Z", 2, s2, regs[1], moveon=True,
             result={"score": {"scaled": 0.82, "raw": 82, "min": 0, "max": 100}, "success": False, "duration": "PT12.54S"},
             extensions={"https://w3id.org/xapi/cmi5/context/extensions/masteryscore": 0.86}),
        cmi5(ADL + "terminated", "terminated", "2026-11-17T19:01:00.000Z", 2, s2, regs[1], result={"duration": "PT58.85S"}),
        cmi5(ADL + "launched", "launched", "2026-11-18T09:21:00.100Z", 2, s3, regs[1], extensions=launch),
        cmi5(ADL + "initialized", "initialized", "2026-11-18T09:21:00.640Z", 2, s3, regs[1]),
        cmi5("https://w3id.org/xapi/adl/verbs/abandoned", "abandoned", "2026-11-18T09:21:11.895Z", 2, s3, regs[1], result={"duration": "PT11.26S"}),
        cmi5("https://w3id.org/xapi/adl/verbs/waived", "waived", "2026-11-18T10:00:00.000Z", 2, s3, regs[1], moveon=True,
             result={"success": True, "completion": True, "extensions": {"https://w3id.org/xapi/cmi5/result/extensions/reason": "Tested Out"}}),
        cmi5("https://w3id.org/xapi/adl/verbs/satisfied", "satisfied", "2026-11-18T10:00:00.500Z", 2, s3, regs[1],
             obj=course, grouping=course_grouping),
    ]


# --------------------------------------------------------------------------------------------- xAPI Video Profile
VIDEO_ID = "https://videos.devu.example/lectures/plate-tectonics"
VIDEO_CATEGORY = [{"id": "https://w3id.org/xapi/video", "definition": {"type": "http://adlnet.gov/expapi/activities/profile"}}]


def video_statement(verb: str, display: str, ts: str, learner: int, session: str, result_ext: dict | None = None,
                    context_ext: dict | None = None, result: dict | None = None) -> dict:
    statement = {
        "id": _id(),
        "actor": {"objectType": "Agent", "mbox": f"mailto:learner{learner}@devu.example", "name": f"Learner {learner}"},
        "verb": {"id": verb, "display": {"en-US": display}},
        "object": {"id": VIDEO_ID, "objectType": "Activity", "definition": {
            "name": {"en-US": "Plate tectonics"}, "type": "https://w3id.org/xapi/video/activity-type/video"}},
        "context": {"registration": "a1b2c3d4-0000-4000-8000-00000000000" + str(learner),
                    "contextActivities": {"category": VIDEO_CATEGORY,
                                          "parent": [{"id": "https://lms.devu.example/courses/geology-101", "objectType": "Activity",
                                                      "definition": {"name": {"en-US": "Geology 101"}, "type": "http://adlnet.gov/expapi/activities/course"}}]},
                    "extensions": {"https://w3id.org/xapi/video/extensions/session-id": session, **(context_ext or {})}},
        "timestamp": ts,
    }
    if result_ext is not None or result is not None:
        statement["result"] = {**(result or {}), **({"extensions": result_ext} if result_ext is not None else {})}
    return statement


def video_statements() -> list[dict]:
    t, p, seg = ("https://w3id.org/xapi/video/extensions/" + k for k in ("time", "progress", "played-segments"))
    init = {"https://w3id.org/xapi/video/extensions/length": 620.0, "https://w3id.org/xapi/video/extensions/completion-threshold": 0.9,
            "https://w3id.org/xapi/video/extensions/user-agent": "Mozilla/5.0", "https://w3id.org/xapi/video/extensions/volume": 1,
            "https://w3id.org/xapi/video/extensions/cc-enabled": False, "https://w3id.org/xapi/video/extensions/speed": "1x"}
    length = {"https://w3id.org/xapi/video/extensions/length": 620.0}
    out = []
    for learner, session, day in ((1, "e6b0a1b3-0f1f-4a3a-9f56-0c4d31b02e01", "2026-11-16"), (2, "e6b0a1b3-0f1f-4a3a-9f56-0c4d31b02e02", "2026-11-17")):
        out += [
            video_statement(ADL + "initialized", "initialized", f"{day}T10:00:00.000Z", learner, session, context_ext=init),
            video_statement(VIDEO + "played", "played", f"{day}T10:00:02.500Z", learner, session, {t: 0.0}),
            video_statement(VIDEO + "paused", "paused", f"{day}T10:05:12.000Z", learner, session,
                            {t: 310.0, p: 0.5, seg: "0[.]310"}, length),
            video_statement(VIDEO + "seeked", "seeked", f"{day}T10:05:20.000Z", learner, session,
                            {"https://w3id.org/xapi/video/extensions/time-from": 310.0, "https://w3id.org/xapi/video/extensions/time-to": 400.0}),
            video_statement(ADL + "interacted", "interacted", f"{day}T10:05:30.000Z", learner, session, {t: 400.0},
                            {"https://w3id.org/xapi/video/extensions/cc-enabled": True, "https://w3id.org/xapi/video/extensions/cc-subtitle-lang": "en-US"}),
            video_statement(VIDEO + "played", "played", f"{day}T10:05:31.000Z", learner, session, {t: 400.0}),
        ]
        if learner == 1:
            out += [video_statement(ADL + "completed", "completed", f"{day}T10:09:10.000Z", learner, session,
                                    {t: 620.0, p: 1.0, seg: "0[.]310[,]400[.]620"}, {**length, "https://w3id.org/xapi/video/extensions/completion-threshold": 0.9},
                                    {"completion": True, "duration": "PT9M10S"})]
        out += [video_statement(ADL + "terminated", "terminated", f"{day}T10:09:30.000Z", learner, session,
                                {t: 620.0 if learner == 1 else 455.0, p: 1.0 if learner == 1 else 0.59,
                                 seg: "0[.]310[,]400[.]620" if learner == 1 else "0[.]310[,]400[.]455"}, length)]
    return out


# --------------------------------------------------------------------------------------------- ADL + TinCan
def lrs(verb: str, display: str, obj: dict, ts: str, learner: int, result: dict | None = None) -> dict:
    statement = {"id": _id(), "actor": {"objectType": "Agent", "account": {"homePage": "https://moodle.devu.example", "name": f"m-{learner}"}},
                 "verb": {"id": verb, "display": {"en-US": display}}, "object": {"objectType": "Activity", **obj}, "timestamp": ts,
                 "context": {"registration": f"b7e2c1a0-0000-4000-8000-00000000000{learner}", "platform": "Moodle",
                             "contextActivities": {"grouping": [{"id": "https://moodle.devu.example/course/view.php?id=42", "objectType": "Activity",
                                                                 "definition": {"name": {"en": "Statistics 1"}, "type": "http://adlnet.gov/expapi/activities/course"}}],
                                                   "parent": [{"id": "https://moodle.devu.example/course/section.php?id=7", "objectType": "Activity",
                                                               "definition": {"type": "http://adlnet.gov/expapi/activities/module"}}]}}}
    if result is not None:
        statement["result"] = result
    return statement


def adl_tincan_statements() -> list[dict]:
    page = {"id": "https://moodle.devu.example/mod/page/view.php?id=101", "definition": {"name": {"en": "Sampling"}, "type": "http://adlnet.gov/expapi/activities/lesson"}}
    quiz = {"id": "https://moodle.devu.example/mod/quiz/view.php?id=102", "definition": {"type": "http://adlnet.gov/expapi/activities/assessment"}}
    question = {"id": "https://moodle.devu.example/question/55", "definition": {"type": "http://adlnet.gov/expapi/activities/cmi.interaction", "interactionType": "numeric"}}
    forum = {"id": "https://moodle.devu.example/mod/forum/discuss.php?d=9", "definition": {"type": "http://id.tincanapi.com/activitytype/discussion"}}
    slides = {"id": "https://moodle.devu.example/mod/resource/view.php?id=103", "definition": {"type": "http://id.tincanapi.com/activitytype/slide-deck"}}
    course = {"id": "https://moodle.devu.example/course/view.php?id=42", "definition": {"name": {"en": "Statistics 1"}, "type": "http://adlnet.gov/expapi/activities/course"}}
    return [
        lrs(ADL + "registered", "registered", course, "2026-11-16T07:00:00Z", 1),
        lrs(ADL + "registered", "registered", course, "2026-11-16T07:05:00Z", 2),
        lrs(ADL + "launched", "launched", page, "2026-11-16T08:00:00Z", 1),
        lrs(ADL + "experienced", "experienced", page, "2026-11-16T08:01:00Z", 1, {"duration": "PT6M30S"}),
        lrs(TINCAN + "viewed", "viewed", slides, "2026-11-16T08:08:00Z", 1),
        lrs(TINCAN + "downloaded", "downloaded", slides, "2026-11-16T08:09:00Z", 1),
        lrs(ADL + "attempted", "attempted", quiz, "2026-11-16T08:10:00Z", 1),
        lrs(ADL + "answered", "answered", question, "2026-11-16T08:11:00Z", 1,
            {"score": {"raw": 3, "min": 0, "max": 4}, "success": True, "response": "0.42", "duration": "PT40S",
             "extensions": {"https://moodle.devu.example/xapi/extensions/hint_used": False}}),
        lrs(ADL + "scored", "scored", quiz, "2026-11-16T08:15:00Z", 1, {"score": {"scaled": 0.75}}),
        lrs(ADL + "asked", "asked", question, "2026-11-16T08:12:00Z", 2),
        lrs(ADL + "answered", "answered", question, "2026-11-16T08:13:00Z", 2, {"response": "0.5"}),  # no score: quarantined
        lrs(ADL + "commented", "commented", forum, "2026-11-16T09:00:00Z", 2,
            {"response": "I don't understand why the sample mean is unbiased, can someone give a hint?"}),
        lrs(TINCAN + "replied", "replied", forum, "2026-11-16T09:20:00Z", 1, {"response": "Take the expectation of each term: E[X_i] = mu."}),
        lrs(TINCAN + "flagged", "flagged", page, "2026-11-16T09:30:00Z", 2),
        lrs(ADL + "suspended", "suspended", page, "2026-11-16T09:40:00Z", 1),
        lrs(ADL + "resumed", "resumed", page, "2026-11-17T08:00:00Z", 1),
        lrs(ADL + "exited", "exited", page, "2026-11-17T08:30:00Z", 1, {"duration": "PT30M"}),
        lrs(TINCAN + "earned", "earned", quiz, "2026-11-17T09:00:00Z", 2, {"score": {"raw": 12, "min": 0, "max": 20}}),
        lrs(TINCAN + "unregistered", "unregistered", course, "2026-11-18T12:00:00Z", 2),
        lrs(TINCAN + "tweeted", "tweeted", {"id": "https://social.example/post/1"}, "2026-11-17T10:00:00Z", 1),
        lrs(ADL + "shared", "shared", page, "2026-11-17T10:01:00Z", 1),
        lrs(ADL + "voided", "voided", {"id": "00000000-0000-4000-8000-000000000000"}, "2026-11-17T10:02:00Z", 1),
    ]


# --------------------------------------------------------------------------------------------- Caliper: Open edX
def edx_caliper(type_: str, action: str, obj: dict, ts: str, learner: int = 0, **extra) -> dict:
    return {"@context": "http://purl.imsglobal.org/ctx/caliper/v1p2", "action": action,
            "actor": {"id": LEARNERS[learner], "type": "Person"}, "eventTime": ts, "id": f"urn:uuid:{_id()}",
            "object": obj, **extra, "extensions": {"eventVersion": "1.0"}, "type": type_}


def caliper_openedx_events() -> list[dict]:
    video_id = block("video", "0b9e39477cf34507a7a48f74be381fdd")
    video = {"duration": "PT3M15S", "extensions": {"course_id": COURSE, "id": "0b9e39477cf34507a7a48f74be381fdd"}, "id": video_id, "type": "VideoObject"}

    def at(t: str) -> dict:
        return {"target": {"currentTime": t, "id": video_id, "type": "MediaLocation"}}
    problem = block("problem", "3fc5461f86764ad7bdbdf6cbdde61e66")
    membership = {"extensions": {"course_id": COURSE, "mode": "audit"}, "id": f"{HOST}/courses/{COURSE}/", "type": "Membership"}
    day = "2026-11-16T"
    return [
        *[edx_caliper("Event", "Activated", membership, f"{day}08:0{i}:01.917Z", i) for i in range(3)],
        edx_caliper("NavigationEvent", "NavigatedTo", {"extensions": {"current_tab": 4, "tab_count": 10, "widget_placement": "top"},
                                                       "id": block("sequential", "19a30717eff543078a5d94ae9d6c18a5"), "type": "WebPage"}, f"{day}08:10:42.424Z"),
        edx_caliper("NavigationEvent", "NavigatedTo", {"extensions": {"current_url": f"{HOST}/courses/{COURSE}/course/"},
                                                       "id": f"{HOST}/courses/{COURSE}/jump_to/{block('sequential', '6ab9c442501d472c8ed200e367b4edfa')}", "type": "WebPage"},
                    f"{day}08:11:28.973Z", 1),
        edx_caliper("MediaEvent", "Started", video, f"{day}08:12:55.057Z", **at("PT0.032788S")),
        edx_caliper("MediaEvent", "Paused", video, f"{day}08:14:09.649Z", **at("PT1M37.5S")),
        edx_caliper("MediaEvent", "JumpedTo", {**video, "extensions": {**video["extensions"], "code": "b7xgknqkQk8", "new_time": "PT2M30S",
                                                                        "old_time": "PT1M37.5S", "type": "onSlideSeek"}}, f"{day}08:14:28.027Z"),
        edx_caliper("MediaEvent", "ChangedSpeed", {**video, "extensions": {**video["extensions"], "new_speed": "1.25", "old_speed": "1.0"}},
                    f"{day}08:14:44.581Z", **at("PT2M31S")),
        edx_caliper("MediaEvent", "Ended", {"duration": "PT3M15S", "extensions": {"isPartOf": {"id": f"{HOST}/course/{COURSE}", "type": "CourseOffering"}},
                                            "id": f"{HOST}/xblock/{video_id}", "type": "VideoObject"}, f"{day}08:15:41.543Z",
                    target={"id": "_:MediaLocation", "type": "MediaLocation"}),
        edx_caliper("AssessmentEvent", "Submitted", {"extensions": {"course_id": COURSE, "data": "input_3fc5461f86764ad7bdbdf6cbdde61e66_2_1%5B%5D=choice_0"},
                                                     "id": block("sequential", "ef37eb3cf1724e38b7f88a9ce85a4842"), "type": "Assessment"}, f"{day}08:20:26.580Z"),
        edx_caliper("AssessmentEvent", "Submitted", {"extensions": {"course_id": COURSE, "attempts": 1, "grade": 1, "max_grade": 1, "success": "correct"},
                                                     "id": problem, "type": "Assessment"}, f"{day}08:20:26.906Z"),
        edx_caliper("AssessmentEvent", "Submitted", {"extensions": {"course_id": COURSE, "event_transaction_id": "07adb7b7-db7e-4cfd-9d69-5474a4c5774c",
                                                                    "event_transaction_type": "edx.grades.problem.submitted", "weighted_earned": 1, "weighted_possible": 1},
                                                     "id": problem, "type": "Assessment"}, f"{day}08:20:27.100Z"),
        edx_caliper("AssessmentEvent", "Submitted", {"extensions": {"course_id": COURSE, "attempts": 2, "grade": 1, "max_grade": 3, "success": "incorrect"},
                                                     "id": problem, "type": "Assessment"}, f"{day}08:22:01.000Z", 1),
        edx_caliper("ViewEvent", "Viewed", {"extensions": {"course_id": COURSE, "hint_index": 1, "hint_len": 2, "hint_text": "A do-while loop tests at the end.",
                                                           "module_id": problem}, "id": problem, "type": "Frame"}, f"{day}08:23:37.404Z", 1),
        edx_caliper("ViewEvent", "Viewed", {"extensions": {"course_id": COURSE}, "id": f"{HOST}/courses/{COURSE}/courseware", "type": "WebPage"},
                    f"{day}08:24:00.000Z", 2),
        edx_caliper("AnnotationEvent", "Bookmarked", {"extensions": {"course_id": COURSE}, "id": problem, "type": "Frame"}, f"{day}08:25:00.000Z", 2),
        edx_caliper("Event", "Completed", {"extensions": {"course_id": COURSE}, "id": f"{HOST}/course/{COURSE}", "type": "Membership"}, "2026-11-18T06:36:01.917Z", 0),
        edx_caliper("Event", "Deactivated", membership, "2026-11-18T07:39:23.898Z", 2, referrer={"id": f"{HOST}/dashboard", "type": "WebPage"}),
    ]


# --------------------------------------------------------------------------------------------- Caliper: IMS 1.2 spec
EDU = "https://example.edu"
SECTION = f"{EDU}/terms/202603/courses/7/sections/1"
ASSESS = f"{SECTION}/assess/1"


def spec(type_: str, profile: str, action: str, obj, ts: str, learner: str = "554433", **extra) -> dict:
    session = {"id": f"{EDU}/sessions/1f6442a482de72ea6ad134943812bff564a7{learner[-4:]}", "type": "Session", "startedAtTime": ts[:11] + "10:00:00.000Z"}
    return {"@context": "http://purl.imsglobal.org/ctx/caliper/v1p2", "id": f"urn:uuid:{_id()}", "type": type_, "profile": profile,
            "actor": {"id": f"{EDU}/users/{learner}", "type": "Person"}, "action": action, "object": obj, "eventTime": ts,
            "edApp": f"{EDU}", "group": {"id": SECTION, "type": "CourseSection", "courseNumber": "CPS 435-01", "academicSession": "Fall 2026"},
            "membership": {"id": f"{SECTION}/rosters/1", "type": "Membership", "member": f"{EDU}/users/{learner}", "organization": SECTION,
                           "roles": ["Learner"], "status": "Active", "dateCreated": "2026-08-01T06:00:00.000Z"},
            "session": session, **extra}


def _spec_grades(day: str, attempt: dict) -> list[dict]:
    """caliperEventGradeGraded (with a scoreGiven, as in the envelope fixture) and caliperEventGradeGradedItem
    (maxScore 0 and no scoreGiven, exactly as published)."""
    grader = {"id": f"{EDU}/autograder", "type": "SoftwareApplication", "version": "v2"}
    return [
        {**spec("GradeEvent", "GradingProfile", "Graded",
                {**attempt, "assignee": {"id": f"{EDU}/users/554433", "type": "Person"}, "assignable": {"id": ASSESS, "type": "Assessment"},
                 "endedAtTime": f"{day}10:25:30.000Z", "duration": "PT10M30S"}, f"{day}10:57:06.000Z",
                generated={"id": f"{attempt['id']}/scores/1", "type": "Score", "attempt": attempt["id"], "maxScore": 15.0, "scoreGiven": 10.0,
                           "scoredBy": f"{EDU}/autograder", "comment": "auto-graded exam", "dateCreated": f"{day}10:56:00.000Z"}), "actor": grader},
        {**spec("GradeEvent", "GradingProfile", "Graded",
                {"id": f"{ASSESS}/items/3/users/554433/attempts/1", "type": "Attempt", "assignee": {"id": f"{EDU}/users/554433", "type": "Person"},
                 "assignable": {"id": f"{ASSESS}/items/3", "type": "AssessmentItem"}, "count": 1}, f"{day}10:57:07.000Z",
                generated={"id": f"{ASSESS}/items/3/users/554433/attempts/1/scores/1", "type": "Score", "maxScore": 0.0,
                           "scoredBy": f"{EDU}/autograder", "comment": "auto-graded exam"}), "actor": grader},  # no scoreGiven: quarantined
    ]


def caliper_spec_envelope() -> dict:
    day = "2026-11-17T"
    item = {"id": f"{ASSESS}/items/3", "type": "AssessmentItem", "name": "Assessment Item 3",
            "isPartOf": {"id": ASSESS, "type": "Assessment"}, "dateToStartOn": "2026-11-14T05:00:00.000Z",
            "dateToSubmit": "2026-11-18T11:59:59.000Z", "maxAttempts": 2, "maxSubmits": 0.0, "isTimeDependent": False, "version": "1.0"}
    attempt = {"id": f"{ASSESS}/users/554433/attempts/1", "type": "Attempt", "assignee": f"{EDU}/users/554433", "assignable": ASSESS, "count": 1,
               "dateCreated": f"{day}10:15:00.000Z", "startedAtTime": f"{day}10:15:00.000Z"}
    video = {"id": f"{EDU}/videos/1225", "type": "VideoObject", "name": "Introduction to IMS Caliper", "mediaType": "video/ogg", "duration": "PT20M20S"}
    message = {"id": f"{SECTION}/forums/2/topics/1/messages/2", "type": "Message", "creators": [{"id": f"{EDU}/users/554433", "type": "Person"}],
               "body": "Are the Caliper Sensor reference implementations production-ready? My email is jane@example.edu.",
               "isPartOf": {"id": f"{SECTION}/forums/2/topics/1", "type": "Thread", "name": "Caliper Adoption",
                            "isPartOf": {"id": f"{SECTION}/forums/2", "type": "Forum", "name": "Caliper Forum"}},
               "dateCreated": f"{day}10:15:00.000Z"}
    data = [
        {"@context": "http://purl.imsglobal.org/ctx/caliper/v1p2", "id": f"{EDU}/users/554433", "type": "Person",
         "otherIdentifiers": [{"type": "SystemIdentifier", "identifier": "jane@example.edu", "identifierType": "EmailAddress", "source": EDU}],
         "dateCreated": "2026-08-01T06:00:00.000Z"},
        {"@context": "http://purl.imsglobal.org/ctx/caliper/v1p2", "id": SECTION, "type": "CourseSection", "academicSession": "Fall 2026",
         "courseNumber": "CPS 435-01", "name": "CPS 435 Learning Analytics, Section 01",
         "subOrganizationOf": {"id": f"{EDU}/terms/202603/courses/7", "type": "CourseOffering", "courseNumber": "CPS 435"}},
        spec("SessionEvent", "SessionProfile", "LoggedIn", {"id": EDU, "type": "SoftwareApplication", "version": "v2"}, f"{day}10:00:00.000Z"),
        spec("NavigationEvent", "ReadingProfile", "NavigatedTo", {"id": f"{SECTION}/pages/2", "type": "WebPage", "name": "Learning Analytics Specifications",
                                                                  "dateCreated": "2026-08-01T09:00:00.000Z"},
             f"{day}10:05:00.000Z", referrer={"id": f"{SECTION}/pages/1", "type": "WebPage"}),
        spec("ViewEvent", "ReadingProfile", "Viewed", {"id": f"{EDU}/etexts/201.epub", "type": "Document", "name": "IMS Caliper Implementation Guide",
                                                       "version": "1.1"}, f"{day}10:06:00.000Z"),
        spec("MediaEvent", "MediaProfile", "Started", video, f"{day}10:07:00.000Z", target={"id": f"{EDU}/videos/1225?t=0", "type": "MediaLocation", "currentTime": "PT0S"}),
        spec("MediaEvent", "MediaProfile", "Paused", video, f"{day}10:12:21.000Z", target={"id": f"{EDU}/videos/1225?t=321", "type": "MediaLocation", "currentTime": "PT05M21S"}),
        spec("MediaEvent", "MediaProfile", "Ended", video, f"{day}10:27:30.000Z", target={"id": f"{EDU}/videos/1225?t=1220", "type": "MediaLocation", "currentTime": "PT20M20S"}),
        spec("AssessmentEvent", "AssessmentProfile", "Started", {"id": ASSESS, "type": "Assessment", "name": "Quiz One", "maxAttempts": 2},
             f"{day}10:15:00.000Z", generated=attempt),
        spec("AssessmentItemEvent", "AssessmentProfile", "Started", item, f"{day}10:15:02.000Z"),
        spec("AssessmentItemEvent", "AssessmentProfile", "Completed", item, f"{day}10:15:12.000Z",
             generated={"id": f"{ASSESS}/items/3/users/554433/responses/1", "type": "FillinBlankResponse",
                        "attempt": {"id": f"{ASSESS}/items/3/users/554433/attempts/1", "type": "Attempt", "assignee": f"{EDU}/users/554433",
                                    "assignable": item["id"], "count": 1, "startedAtTime": f"{day}10:15:02.000Z", "endedAtTime": f"{day}10:15:12.000Z"},
                        "dateCreated": f"{day}10:15:12.000Z", "startedAtTime": f"{day}10:15:02.000Z", "endedAtTime": f"{day}10:15:12.000Z",
                        "values": ["subject", "object", "predicate"]}),
        spec("AssessmentItemEvent", "AssessmentProfile", "Skipped", {**item, "id": f"{ASSESS}/items/2", "name": "Assessment Item 2"}, f"{day}10:14:30.000Z"),
        spec("AssessmentEvent", "AssessmentProfile", "Submitted", {"id": ASSESS, "type": "Assessment", "name": "Quiz One", "maxAttempts": 2},
             f"{day}10:25:30.000Z", generated={**attempt, "endedAtTime": f"{day}10:25:30.000Z", "duration": "PT10M30S"}),
        *_spec_grades(day, attempt),
        {"@context": "http://purl.imsglobal.org/ctx/caliper/v1p2", "id": f"urn:uuid:{_id()}", "type": "ForumEvent", "profile": "ForumProfile",
         "actor": f"{EDU}/users/554433", "action": "Subscribed", "object": f"{SECTION}/forums/1", "eventTime": f"{day}10:16:00.000Z",
         "edApp": f"{EDU}/forums", "group": SECTION, "membership": f"{SECTION}/rosters/1", "session": f"{EDU}/sessions/1f6442a482de72ea6ad134943812bff564a74433"},
        spec("ThreadEvent", "ForumProfile", "MarkedAsRead", {"id": f"{SECTION}/forums/2/topics/1", "type": "Thread", "name": "Caliper Adoption"}, f"{day}10:16:30.000Z"),
        spec("MessageEvent", "ForumProfile", "Posted", message, f"{day}10:17:00.000Z"),
        spec("MessageEvent", "ForumProfile", "Posted", {"id": f"{SECTION}/forums/2/topics/1/messages/3", "type": "Message",
                                                       "creators": [{"id": f"{EDU}/users/778899", "type": "Person"}],
                                                       "body": "The Caliper reference implementations have been tested, yes.",
                                                       "replyTo": {"id": message["id"], "type": "Message"},
                                                       "isPartOf": {"id": f"{SECTION}/forums/2/topics/1", "type": "Thread"}}, f"{day}11:02:00.000Z", learner="778899"),
        spec("ToolUseEvent", "ToolUseProfile", "Used", {"id": EDU, "type": "SoftwareApplication"}, f"{day}11:15:00.000Z",
             generated={"id": f"urn:uuid:{_id()}", "type": "AggregateMeasureCollection", "items": [
                 {"id": f"urn:uuid:{_id()}", "type": "AggregateMeasure", "metric": "MinutesOnTask", "name": "Minutes On Task", "metricValue": 873.0,
                  "startedAtTime": "2026-08-15T10:15:00.000Z", "endedAtTime": f"{day}10:15:00.000Z"},
                 {"id": f"urn:uuid:{_id()}", "type": "AggregateMeasure", "metric": "UnitsCompleted", "name": "Units Completed", "metricValue": 12.0,
                  "maxMetricValue": 25.0, "startedAtTime": "2026-08-15T10:15:00.000Z", "endedAtTime": f"{day}10:15:00.000Z"}]}),
        spec("AnnotationEvent", "AnnotationProfile", "Highlighted", {"id": f"{EDU}/etexts/201.epub#epubcfi(/6/4[chap01]!/4[body01]/10[para05]/3:10)",
                                                                     "type": "Frame", "isPartOf": {"id": f"{EDU}/etexts/201.epub", "type": "Document"}},
             f"{day}11:20:00.000Z"),
        spec("SessionEvent", "SessionProfile", "LoggedOut", {"id": EDU, "type": "SoftwareApplication", "version": "v2"}, f"{day}11:30:00.000Z",
             session={"id": f"{EDU}/sessions/1f6442a482de72ea6ad134943812bff564a74433", "type": "Session", "user": f"{EDU}/users/554433",
                      "dateCreated": f"{day}10:00:00.000Z", "startedAtTime": f"{day}10:00:00.000Z", "endedAtTime": f"{day}11:30:00.000Z", "duration": "PT1H30M"}),
        {"@context": "http://purl.imsglobal.org/ctx/caliper/v1p2", "id": f"urn:uuid:{_id()}", "type": "SessionEvent", "profile": "SessionProfile",
         "actor": {"id": EDU, "type": "SoftwareApplication"}, "action": "TimedOut",
         "object": {"id": f"{EDU}/sessions/7d6b88adf746f0692e2e873308b78c60fb13a864", "type": "Session", "user": {"id": f"{EDU}/users/112233", "type": "Person"},
                    "dateCreated": f"{day}12:15:00.000Z", "startedAtTime": f"{day}12:15:00.000Z", "endedAtTime": f"{day}13:15:00.000Z", "duration": "PT3600S"},
         "eventTime": f"{day}13:15:00.000Z", "edApp": EDU},
    ]
    return {"sensor": f"{EDU}/sensors/1", "sendTime": f"{day}13:20:01.000Z", "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2", "data": data}


def main() -> None:
    files = {
        HERE / "openedx.json": openedx_statements(),
        HERE / "cmi5.json": cmi5_statements(),
        HERE / "video.json": video_statements(),
        HERE / "adl_tincan.json": {"statements": adl_tincan_statements(), "more": ""},
        HERE.parent / "caliper" / "openedx.json": caliper_openedx_events(),
        HERE.parent / "caliper" / "spec.json": caliper_spec_envelope(),
    }
    for path, doc in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1) + "\n")
        print(path.relative_to(HERE.parent.parent.parent), len(doc["data"] if "data" in doc else doc.get("statements", doc) if isinstance(doc, dict) else doc))


if __name__ == "__main__":
    main()
