// Deploy findings -> where to show them: a finding names its file, line and element id; the
// designer marks the element on the diagram and lists the rest by line.

/** {byElement: {id: [messages]}, unplaced: [text]} for the file being edited. */
export function placeFindings(errors, filename, knownIds = () => true) {
  const byElement = {};
  const unplaced = [];
  for (const e of Array.isArray(errors) ? errors : []) {
    const sameFile = !e.file || !filename || e.file === filename;
    const where = [e.file, e.line ? `:${e.line}` : ''].filter(Boolean).join('');
    const text = `${where ? `${where} ` : ''}${e.element_id ? `[${e.element_id}] ` : ''}${e.message || e.field || ''}`.trim();
    if (sameFile && e.element_id && knownIds(e.element_id)) (byElement[e.element_id] ||= []).push(e.line ? `${e.line}: ${e.message}` : e.message);
    else unplaced.push(text);
  }
  return { byElement, unplaced };
}
