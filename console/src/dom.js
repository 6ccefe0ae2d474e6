// Building DOM without HTML strings: text is always text (API data can never become markup).

/** h('button', {class: 'x', onclick: fn, disabled: true}, 'label', child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value' && 'value' in el) el.value = value;
    else if (key === 'checked' || key === 'selected') el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** el.append that also takes arrays and skips null/false (so a missing part just isn't there). */
export function add(el, ...children) {
  return append(el, children);
}

/** Replace el's children. */
export function fill(el, ...children) {
  return append(clear(el), children);
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let seq = 0;
/** A fresh element id (labels point at inputs with for=). */
export function uid(prefix = 'f') {
  seq += 1;
  return `${prefix}-${seq}`;
}
