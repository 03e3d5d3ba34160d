"""One learner: profile, behaviour, decisions over time, mastery, review queue, recommendations, XP, chat topics."""

import streamlit as st

from dashboards.data import (
    AT_RISK_SEGMENTS,
    plain_reasons,
    require,
    serving_query,
    sidebar_filters,
    warehouse_query,
)
from models.decision_trees import INTERVENTION_TREE, SEGMENT_TREE

st.title("Learner drill-down")
course, cohort, learners = sidebar_filters()
if not learners:
    st.info("No learners match these filters.")
    st.stop()
risky = require(lambda: serving_query(
    "SELECT user_id FROM serving.learner_decisions WHERE tree_id = %s AND decision_label = ANY(%s) "
    "AND user_id = ANY(%s) ORDER BY user_id LIMIT 1", (SEGMENT_TREE, list(AT_RISK_SEGMENTS), list(learners))), "Decisions")
default = risky["user_id"].iloc[0] if len(risky) else learners[0]
user = st.selectbox("Learner", learners, index=learners.index(default), key="learner")

profile = warehouse_query("SELECT * FROM marts.dim_learner WHERE user_id = ?", (user,))
behaviour = warehouse_query("SELECT * FROM marts.fct_learner_behavior WHERE user_id = ?", (user,))
decisions = serving_query(
    "SELECT tree_id, decision_label, confidence, decision_version, flagged_rules_hit FROM serving.learner_decisions WHERE user_id = %s",
    (user,))
xp = serving_query(
    "SELECT x.xp_total, x.level, x.xp_to_next_level, x.badges, s.current_streak, s.longest_streak "
    "FROM serving.learner_xp x LEFT JOIN serving.streaks s USING (user_id) WHERE x.user_id = %s", (user,))

c1, c2, c3, c4 = st.columns(4)
seg = decisions.set_index("tree_id")["decision_label"].to_dict()
c1.metric("Segment", seg.get(SEGMENT_TREE, "—"))
c2.metric("Suggested intervention", seg.get(INTERVENTION_TREE, "—"))
if len(xp):
    c3.metric("XP / level", f"{int(xp['xp_total'].iloc[0]):,} / L{int(xp['level'].iloc[0])}")
    c4.metric("Streak (longest)", f"{int(xp['current_streak'].iloc[0] or 0)} ({int(xp['longest_streak'].iloc[0] or 0)}) days")
for r in decisions.itertuples():
    st.markdown(f"**{r.tree_id}** → {r.decision_label} (v{r.decision_version}): {plain_reasons(r.flagged_rules_hit)}")

tab_p, tab_m, tab_r, tab_h, tab_g, tab_c = st.tabs(
    ["Profile and behaviour", "Mastery", "Reviews and recommendations", "Decision history", "Badges and challenges", "Chat topics"])
with tab_p:
    if len(profile):
        st.dataframe(profile.T.rename(columns={0: "value"}).astype(str), width="stretch")
    if len(behaviour):
        st.dataframe(behaviour.T.rename(columns={0: "value"}).astype(str), width="stretch")
with tab_m:
    mastery = serving_query(
        "SELECT skill_id, p_known, skill_score, mastered, attempts FROM serving.mastery WHERE user_id = %s ORDER BY skill_id", (user,))
    st.bar_chart(mastery, x="skill_id", y="p_known")
    st.dataframe(mastery, hide_index=True, width="stretch")
    path = serving_query(
        "SELECT course_id, module_id, step, status, module_mastery, missing_prerequisites FROM serving.learning_path "
        "WHERE user_id = %s ORDER BY course_id, topo_rank", (user,))
    st.subheader("Learning path")
    st.dataframe(path, hide_index=True, width="stretch")
with tab_r:
    st.subheader("Reviews due today")
    st.dataframe(serving_query(
        "SELECT priority, skill_id, due_at, overdue, retrievability FROM serving.review_queue WHERE user_id = %s ORDER BY priority",
        (user,)), hide_index=True, width="stretch")
    st.subheader("Recommendations")
    st.dataframe(serving_query(
        "SELECT rank, content_id, format, reason, reason_detail FROM serving.recommendations WHERE user_id = %s ORDER BY rank",
        (user,)), hide_index=True, width="stretch")
    st.subheader("Next quiz")
    st.dataframe(serving_query(
        "SELECT position, question_id, skill_id, predicted_success, reason FROM serving.next_quiz WHERE user_id = %s ORDER BY position",
        (user,)), hide_index=True, width="stretch")
with tab_h:
    history = serving_query(
        "SELECT decided_at, tree_id, decision_label, decision_version FROM serving.decision_log WHERE user_id = %s ORDER BY decided_at",
        (user,))
    st.dataframe(history, hide_index=True, width="stretch")
with tab_g:
    st.dataframe(serving_query("SELECT name, earned_at FROM serving.badges WHERE user_id = %s ORDER BY earned_at", (user,)),
                 hide_index=True, width="stretch")
    st.dataframe(serving_query(
        "SELECT description, progress, target, completed FROM serving.weekly_challenges WHERE user_id = %s", (user,)),
        hide_index=True, width="stretch")
with tab_c:
    topics = warehouse_query(
        "SELECT contextual_topic_id AS topic, count(*) AS messages, max(sent_at) AS last_message "
        "FROM staging.stg_devmentor__chat_messages WHERE user_id = ? AND contextual_topic_id IS NOT NULL "
        "GROUP BY 1 ORDER BY last_message DESC LIMIT 10", (user,))
    st.dataframe(topics, hide_index=True, width="stretch")
