// The API's errors are {code, message, errors}; each error may name its field as `field`
// ("purpose", "items.0.quantity") or, for task forms, as a JSON path `path` ("$.comment",
// "$.receipts[0].date"). Both become one dotted key, so a page can show each message beside
// its input; what names no field known to the page stays a general message.

/** "$.receipts[0].date" -> "receipts.0.date"; "$" -> "" */
export function pathToField(path) {
  if (typeof path !== 'string') return '';
  return path.replace(/^\$\.?/, '').replace(/\[(\d+)\]/g, '.$1').replace(/\["([^"]+)"\]/g, '.$1')
    .replace(/^\./, '');
}

/** {fields: {name: [messages]}, general: [messages]} from an error body's `errors` list. */
export function groupErrors(errors, known = null) {
  const fields = {};
  const general = [];
  for (const item of Array.isArray(errors) ? errors : []) {
    if (!item || typeof item !== 'object') continue;
    let name = '';
    if (typeof item.field === 'string') name = item.field;
    else if (typeof item.path === 'string') name = pathToField(item.path);
    const message = shorten(String(item.message ?? item.msg ?? JSON.stringify(item)));
    const target = fieldFor(name, known);
    if (target) (fields[target] ||= []).push(message);
    else general.push(name ? `${name}: ${message}` : message);
  }
  return { fields, general };
}

/** The known field a dotted name belongs to ("items.0.quantity" -> "items" if only that is known). */
function fieldFor(name, known) {
  if (!name) return '';
  if (!known) return name;
  const parts = name.split('.');
  for (let i = parts.length; i > 0; i -= 1) {
    const candidate = parts.slice(0, i).join('.');
    if (known.includes(candidate)) return candidate;
  }
  return '';
}

/** A message quoting a long value ("'xxxx…' is too long") with the value cut to 40 characters:
 * the value is in the field right above it. */
export function shorten(message) {
  return message.replace(/'([^']{40})[^']{8,}'/g, "'$1…'");
}
