// The designer's properties panel for aicmp's extensions of the element in hand: a user task's
// form files and instructions, a service task's operator (picked from the registered operators when
// their list could be read), result variable and parameters
// (SpiffWorkflow's extension elements, kept as bpmn-js reads them: generic elements, so that none
// the console does not know is ever dropped), a lane's name (the role code whose holders get its
// tasks), a timer's expression and an error event's code (plain BPMN, changed through modeling
// so that undo works).
import { add, fill, h, uid } from '../dom.js';
import { t } from '../i18n.js';

const SPIFF = 'http://spiffworkflow.org/bpmn/schema/1.0/core';

/** A picker of the registered operators (name, mode and description shown); a name the list lacks
 * stays selectable, marked as not registered. */
function operatorPicker(label, value, operators, onChange) {
  const id = uid('prop');
  const names = new Set(operators.map((o) => o.name));
  const options = [h('option', { value: '' }, t('operator_pick')),
    ...operators.map((o) => h('option', { value: o.name, title: o.description || '', selected: o.name === value },
      `${o.name} (${o.mode})${o.description ? ` · ${o.description}` : ''}`))];
  if (value && !names.has(value)) options.push(h('option', { value, selected: true }, `${value} ${t('operator_unregistered')}`));
  const el = h('select', { id, 'data-prop': 'operator' }, options);
  el.value = value || '';
  el.addEventListener('change', () => onChange(el.value));
  return h('div', { class: 'field' }, h('label', { for: id }, label), el);
}

function input(label, value, onChange, attrs = {}) {
  const id = uid('prop');
  const el = h('input', { id, value: value ?? '', ...attrs });
  el.addEventListener('change', () => onChange(el.value));
  return h('div', { class: 'field' }, h('label', { for: id }, label), el);
}

/** The generic extension element `spiffworkflow:<name>` among a parent's values/children. */
function child(list, name) {
  return (list || []).find((x) => x.$type === `spiffworkflow:${name}`);
}

function extensionValues(modeler, bo) {
  if (!bo.extensionElements) {
    bo.extensionElements = modeler.get('moddle').create('bpmn:ExtensionElements', { values: [] });
    bo.extensionElements.$parent = bo;
  }
  bo.extensionElements.values ||= [];
  return bo.extensionElements.values;
}

function anyElement(modeler, name, attrs = {}) {
  return modeler.get('moddle').createAny(`spiffworkflow:${name}`, SPIFF, attrs);
}

function changed(modeler) {
  modeler.get('eventBus').fire('elements.changed', { elements: [] });
}

/** A spiffworkflow:property's value, created when missing. */
function setProperty(modeler, bo, name, value) {
  const values = extensionValues(modeler, bo);
  let props = child(values, 'properties');
  if (!props) {
    props = anyElement(modeler, 'properties');
    props.$children = [];
    values.push(props);
  }
  props.$children ||= [];
  let prop = props.$children.find((p) => p.name === name);
  if (!prop) {
    prop = anyElement(modeler, 'property', { name, value });
    props.$children.push(prop);
  }
  prop.value = value;
  changed(modeler);
}

function getProperty(bo, name) {
  const props = child(bo.extensionElements?.values, 'properties');
  return (props?.$children || []).find((p) => p.name === name)?.value ?? '';
}

/** `operators`: the registered operators ({name, description, mode, timeout_s}), or null: a text field. */
export function drawProps(panel, modeler, element, operators = null) {
  fill(panel, h('h2', {}, t('properties')));
  if (!element) {
    add(panel, h('p', { class: 'muted' }, '—'));
    return;
  }
  const bo = element.businessObject;
  const modeling = modeler.get('modeling');
  add(panel, h('div', { class: 'field' }, h('label', {}, bo.$type), h('code', { id: 'prop-id' }, bo.id)),
    input(bo.$type === 'bpmn:Lane' ? t('lane_role') : t('title'), bo.name, (v) => modeling.updateProperties(element, { name: v }),
      { 'data-prop': 'name' }));

  if (bo.$type === 'bpmn:UserTask' || bo.$type === 'bpmn:ManualTask') {
    const instructions = child(bo.extensionElements?.values, 'instructionsForEndUser');
    add(panel, h('h3', {}, t('form')),
      input(t('form_schema'), getProperty(bo, 'formJsonSchemaFilename'), (v) => setProperty(modeler, bo, 'formJsonSchemaFilename', v), { 'data-prop': 'form-schema' }),
      input(t('ui_schema'), getProperty(bo, 'formUiSchemaFilename'), (v) => setProperty(modeler, bo, 'formUiSchemaFilename', v), { 'data-prop': 'form-ui-schema' }),
      input(t('instructions'), instructions?.$body, (v) => {
        let node = child(extensionValues(modeler, bo), 'instructionsForEndUser');
        if (!node) {
          node = anyElement(modeler, 'instructionsForEndUser');
          extensionValues(modeler, bo).push(node);
        }
        node.$body = v;
        changed(modeler);
      }, { 'data-prop': 'instructions' }));
  }

  if (bo.$type === 'bpmn:ServiceTask') {
    const values = extensionValues(modeler, bo);
    let op = child(values, 'serviceTaskOperator');
    const ensure = () => {
      if (!op) {
        op = anyElement(modeler, 'serviceTaskOperator', { id: '' });
        values.push(op);
      }
      return op;
    };
    const params = (child(op?.$children, 'parameters')?.$children || []);
    add(panel, h('h3', {}, t('operator')),
      operators
        ? operatorPicker(t('operator'), op?.id, operators, (v) => { ensure().id = v; changed(modeler); })
        : input(t('operator'), op?.id, (v) => { ensure().id = v; changed(modeler); }, { 'data-prop': 'operator' }),
      input(t('result_variable'), op?.resultVariable, (v) => { ensure().resultVariable = v; changed(modeler); }, { 'data-prop': 'result-variable' }),
      params.map((p) => input(`${p.id} (${p.type || 'str'})`, p.value, (v) => { p.value = v; changed(modeler); }, { 'data-param': p.id })));
  }

  for (const def of bo.eventDefinitions || []) {
    if (def.$type === 'bpmn:TimerEventDefinition') {
      const kind = ['timeDuration', 'timeDate', 'timeCycle'].find((k) => def[k]) || 'timeDuration';
      add(panel, h('h3', {}, t('timer')), input(kind, def[kind]?.body, (v) => {
        const expr = def[kind] || modeler.get('moddle').create('bpmn:FormalExpression');
        if (!def[kind]) modeling.updateModdleProperties(element, def, { [kind]: expr });
        modeling.updateModdleProperties(element, expr, { body: v });
      }, { 'data-prop': 'timer' }));
    }
    if (def.$type === 'bpmn:ErrorEventDefinition' && def.errorRef) {
      add(panel, h('h3', {}, t('error_code')), input(t('error_code'), def.errorRef.errorCode,
        (v) => modeling.updateModdleProperties(element, def.errorRef, { errorCode: v }), { 'data-prop': 'error-code' }));
    }
  }
}
