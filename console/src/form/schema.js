// What a JSON Schema (draft 2020-12) + UI schema form consists of, as plain data: no DOM here,
// so the inbox, the form designer's preview and the unit tests share it. The server validates
// every submission (engine/forms.py) and names each bad field as a JSON path; the console checks
// only that required fields are filled and leaves every other rule to the server's messages.

/** The non-null type of a property ("string" for ["string", "null"]) and whether null is allowed. */
export function typeOf(prop) {
  const types = Array.isArray(prop?.type) ? prop.type : [prop?.type];
  const nullable = types.includes('null');
  const main = types.find((x) => x && x !== 'null') || (prop?.enum ? 'string' : 'string');
  return { type: main, nullable };
}

/** Property names in ui:order (with "*" standing for the rest), else in the schema's order. */
export function orderOf(schema, ui = {}) {
  const names = Object.keys(schema?.properties || {});
  const order = Array.isArray(ui?.['ui:order']) ? ui['ui:order'] : null;
  if (!order) return names;
  const listed = order.filter((n) => n !== '*' && names.includes(n));
  const rest = names.filter((n) => !listed.includes(n));
  const star = order.indexOf('*');
  if (star < 0) return [...listed, ...rest];
  const before = order.slice(0, star).filter((n) => names.includes(n));
  const after = order.slice(star + 1).filter((n) => names.includes(n));
  return [...before, ...rest, ...after];
}

/** Which widget draws a property: radio, select, textarea, checkbox, number, date, datetime,
 * email, password, object, json (arrays and anything else), text. */
export function widgetOf(prop, ui = {}) {
  const { type } = typeOf(prop);
  const asked = ui?.['ui:widget'];
  if (prop?.enum) return asked === 'radio' ? 'radio' : 'select';
  if (type === 'boolean') return 'checkbox';
  if (type === 'integer' || type === 'number') return 'number';
  if (type === 'object') return 'object';
  if (type === 'array') return 'json';
  if (asked === 'textarea') return 'textarea';
  if (asked === 'password') return 'password';
  if (prop?.format === 'date') return 'date';
  if (prop?.format === 'date-time') return 'datetime';
  if (prop?.format === 'email') return 'email';
  return 'text';
}

/** The fields of an object schema, in order, each with what a renderer needs. */
export function fieldsOf(schema, ui = {}, prefix = '') {
  const required = new Set(Array.isArray(schema?.required) ? schema.required : []);
  return orderOf(schema, ui).map((name) => {
    const prop = schema.properties[name] || {};
    const fieldUi = ui?.[name] || {};
    const { type, nullable } = typeOf(prop);
    const widget = widgetOf(prop, fieldUi);
    const enumNames = Array.isArray(fieldUi['ui:enumNames']) ? fieldUi['ui:enumNames'] : null;
    return {
      name,
      key: prefix ? `${prefix}.${name}` : name,
      title: fieldUi['ui:title'] || prop.title || name,
      description: fieldUi['ui:description'] || prop.description || '',
      placeholder: fieldUi['ui:placeholder'] || '',
      type,
      nullable,
      widget,
      required: required.has(name),
      options: prop.enum ? prop.enum.map((value, i) => ({ value, label: enumNames?.[i] ?? String(value) })) : null,
      rows: fieldUi['ui:options']?.rows || 4,
      readOnly: Boolean(prop.readOnly || fieldUi['ui:readonly']),
      hidden: fieldUi['ui:widget'] === 'hidden',
      children: widget === 'object' ? fieldsOf(prop, fieldUi, prefix ? `${prefix}.${name}` : name) : null,
    };
  });
}

/** The value to send for what the user typed: numbers as numbers when they parse (else the text,
 * so the server names the field), empty optional text as null when null is allowed, else left out. */
export function coerce(field, raw) {
  if (field.widget === 'checkbox') return Boolean(raw);
  if (field.widget === 'json') {
    if (raw === '' || raw === undefined) return undefined;
    try { return JSON.parse(raw); } catch { return raw; }
  }
  if (raw === '' || raw === undefined || raw === null) return field.nullable ? null : undefined;
  if (field.options) {
    const match = field.options.find((o) => String(o.value) === String(raw));
    return match ? match.value : raw;
  }
  if (field.type === 'integer') return /^-?\d+$/.test(raw) ? Number(raw) : raw;
  if (field.type === 'number') return /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(raw) ? Number(raw) : raw;
  if (field.widget === 'datetime' && /^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(raw)) return new Date(raw).toISOString();
  return raw;
}

/** Keys of required fields left empty: {key: true}. The one rule checked before sending. */
export function missingRequired(fields, data) {
  const missing = [];
  for (const field of fields) {
    const value = data?.[field.name];
    if (field.children) {
      missing.push(...missingRequired(field.children, value || {}));
      continue;
    }
    if (field.required && field.widget !== 'checkbox' && (value === undefined || value === null || value === '')) {
      missing.push(field.key);
    }
  }
  return missing;
}

/** The form's starting values: the task's data over the schema's defaults. */
export function initialData(schema, data = {}) {
  const out = {};
  for (const [name, prop] of Object.entries(schema?.properties || {})) {
    if (data && name in data) out[name] = data[name];
    else if (prop && 'default' in prop) out[name] = prop.default;
    else if (prop?.type === 'object') out[name] = initialData(prop, {});
  }
  return out;
}
