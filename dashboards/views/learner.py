"""One learner: profile, behaviour, decisions over time, mastery, review queue, recommendations, XP, chat topics."""

import streamlit as st

from dashboards.data import (
    AT_RISK_SEGMENTS,
    filters,
    plain_reasons,
    require,
    serving_query,
    warehouse_query,
)
from dashboards.labels import fields, tree_name
from dashboards.ui import table
from models.decision_trees import INTERVENTION_TREE, SEGMENT_TREE

MAX_MATCHES = 200

st.title("Learner drill-down")
f = filters()
if not f.learners:
    st.info(f"No learners match these filters ({f.describe()}).")
    st.stop()

query = st.text_input("Search learner id", key="learner_search", placeholder="part of a learner id, e.g. 0042",
                      help=f"{len(f.learners):,} learners under these filters; the list below shows the matches.")
needle = query.strip().lower()
matches = [u for u in f.learners if needle in u.lower()] if needle else list(f.learners)
if not matches:
    st.warning(f"No learner id under these filters contains “{query}”.")
    st.stop()
if needle:
    default = matches[0]
else:  # no search yet: start on the first at-risk learner
    risky = require(lambda: serving_query(
        "SELECT user_id FROM serving.learner_decisions WHERE tree_id = %s AND decision_label = ANY(%s) "
        "AND user_id = ANY(%s) ORDER BY user_id LIMIT 1", (SEGMENT_TREE, list(AT_RISK_SEGMENTS), list(f.learners))), "Decisions")
    default = risky["user_id"].iloc[0] if len(risky) else matches[0]
shown = matches[:MAX_MATCHES]
if st.session_state.get("learner") in matches and st.session_state["learner"] not in shown:
    shown.append(st.session_state["learner"])
if default not in shown:
    shown.insert(0, default)
if st.session_state.get("learner") not in shown:
    st.session_state["learner"] = default
user = st.selectbox("Learner", shown, key="learner",
                    help=None if len(matches) <= MAX_MATCHES else f"First {MAX_MATCHES} of {len(matches):,} matches: search to narrow.")
if len(matches) > MAX_MATCHES:
    st.caption(f"{len(matches):,} learners match; the list shows {MAX_MATCHES}. Type part of an id to narrow it.")

profile = warehouse_query("SELECT * FROM marts.dim_learner WHERE user_id = ?", (user,))
behaviour = warehouse_query("SELECT * FROM marts.fct_learner_behavior WHERE user_id = ?", (user,))
decisions = serving_query(
    "SELECT tree_id, decision_label, confidence, decision_version, flagged_rules_hit FROM serving.learner_decisions WHERE user_id = %s",
    (user,))
xp = serving_query(
    "SELECT x.xp_total, x.level, x.xp_to_next_level, x.badges, s.current_streak, s.longest_streak "
    "FROM serving.learner_xp x LEFT JOIN serving.streaks s USING (user_id) WHERE x.user_id = %s", (user,))

seg = decisions.set_index("tree_id")["decision_label"].to_dict()
c1, c2 = st.columns(2)
c1.metric(tree_name(SEGMENT_TREE), seg.get(SEGMENT_TREE, "—"))
c2.metric(tree_name(INTERVENTION_TREE), seg.get(INTERVENTION_TREE, "—"))
if len(xp):
    c3, c4 = st.columns(2)
    c3.metric("XP / level", f"{int(xp['xp_total'].iloc[0]):,} / level {int(xp['level'].iloc[0])}")
    c4.metric("Streak (longest)", f"{int(xp['current_streak'].iloc[0] or 0)} ({int(xp['longest_streak'].iloc[0] or 0)}) days")
if decisions.empty:
    st.caption("No current decision: the learner's enrolments have ended, or the learner has no activity yet.")
for r in decisions.sort_values("tree_id", key=lambda t: t.map({SEGMENT_TREE: 0, INTERVENTION_TREE: 1})).itertuples():
    st.markdown(f"**{tree_name(r.tree_id)}** → {r.decision_label} (model v{r.decision_version}), because "
                f"{plain_reasons(r.flagged_rules_hit) or 'the tree has a single leaf'}.")


def section(title: str, frame, empty: str, **kwargs) -> None:
    st.subheader(title)
    if frame.empty:
        st.caption(empty)
    else:
        table(frame, **kwargs)


tab_p, tab_m, tab_r, tab_h, tab_g, tab_c = st.tabs(
    ["Profile and behaviour", "Mastery", "Reviews and recommendations", "Decision history", "Badges and challenges", "Chat topics"])
with tab_p:
    left, right = st.columns(2)
    with left:
        st.subheader("Profile")
        if len(profile):
            # Blank fields are left out: the data source did not record them (the writing metrics need chat text).
            shown = fields(profile.iloc[0].to_dict(), skip=("user_id", "writing_metrics"))
            st.dataframe(shown, hide_index=True, width="stretch", height=35 * (len(shown) + 1) + 3)
        else:
            st.caption("No profile for this learner.")
    with right:
        st.subheader("Behaviour")
        if len(behaviour):
            skip = ("user_id", "content_type_engagement")  # its parts are shown as their own fields
            shown = fields(behaviour.iloc[0].to_dict(), skip=skip)
            st.dataframe(shown, hide_index=True, width="stretch", height=35 * (len(shown) + 1) + 3)
        else:
            st.caption("No recorded behaviour for this learner.")
with tab_m:
    mastery = serving_query(
        "SELECT skill_id, p_known, skill_score, mastered, attempts FROM serving.mastery WHERE user_id = %s ORDER BY skill_id", (user,))
    section("Mastery per skill", mastery, "No mastery estimate: this learner has no skill-tagged quiz answers.",
            progress=("p_known",), formats={"attempts": "%d"})
    path = serving_query(
        "SELECT course_id, module_id, step, status, module_mastery, missing_prerequisites FROM serving.learning_path "
        "WHERE user_id = %s ORDER BY course_id, topo_rank", (user,))
    section("Learning path", path, "No learning path: the learner's courses have no modules with prerequisites.",
            progress=("module_mastery",), formats={"step": "%d"})
with tab_r:
    section("Reviews due today", serving_query(
        "SELECT priority, skill_id, due_at, overdue, retrievability FROM serving.review_queue WHERE user_id = %s ORDER BY priority",
        (user,)), "No review due.", progress=("retrievability",), formats={"priority": "%d"})
    section("Recommendations", serving_query(
        "SELECT rank, content_id, format, reason, reason_detail FROM serving.recommendations WHERE user_id = %s ORDER BY rank",
        (user,)), "No recommendation.", formats={"rank": "%d"})
    section("Next quiz", serving_query(
        "SELECT position, question_id, skill_id, predicted_success, reason FROM serving.next_quiz WHERE user_id = %s ORDER BY position",
        (user,)), "No quiz: the learner's courses have no question bank.", progress=("predicted_success",), formats={"position": "%d"})
with tab_h:
    history = serving_query(
        "SELECT decided_at, tree_id, decision_label, decision_version FROM serving.decision_log WHERE user_id = %s ORDER BY decided_at",
        (user,))
    history["tree_id"] = history["tree_id"].map(tree_name)
    section("Decisions over time", history, "No decision yet.")
with tab_g:
    section("Badges", serving_query("SELECT name, earned_at FROM serving.badges WHERE user_id = %s ORDER BY earned_at", (user,)),
            "No badge yet.")
    section("This week's challenges", serving_query(
        "SELECT description, progress, target, completed FROM serving.weekly_challenges WHERE user_id = %s", (user,)),
        "No challenge this week.")
with tab_c:
    topics = warehouse_query(
        "SELECT contextual_topic_id AS topic, count(*) AS messages, max(sent_at) AS last_message "
        "FROM staging.stg_devmentor__chat_messages WHERE user_id = ? AND contextual_topic_id IS NOT NULL "
        "GROUP BY 1 ORDER BY last_message DESC LIMIT 10", (user,))
    section("Chat topics", topics, "No chat messages from this learner in the data.")
