// An application's approval history for people: the steps someone took (with their actor), and
// the decisions the process recorded (a step's `last_decision`: a platform decision taken in a
// called process shows up only so), each decision once.

/** The decision and comment a step carries, from its own data or its recorded `last_decision`. */
export function decisionOf(step) {
  const data = step?.data && typeof step.data === 'object' ? step.data : {};
  const recorded = data.last_decision && typeof data.last_decision === 'object' ? data.last_decision : null;
  if (recorded) return { decision: recorded.decision || '', comment: recorded.comment || '', stage: recorded.step || '' };
  if (data.decision || data.comment) return { decision: data.decision || '', comment: data.comment || '', stage: '' };
  return null;
}

export function peopleSteps(history) {
  const out = [];
  for (const step of history || []) {
    if (step.state === 'CANCELLED') continue;
    const decision = decisionOf(step);
    const recorded = Boolean(step.data?.last_decision);
    if (!step.actor && !recorded) continue;
    const last = out[out.length - 1];
    const lastDecision = last && decisionOf(last);
    if (!step.actor && lastDecision && decision && lastDecision.decision === decision.decision
        && lastDecision.comment === decision.comment) continue; // the record of the decision just shown
    out.push(step);
  }
  return out;
}
