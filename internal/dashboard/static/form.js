// Forms whose fields show the API's validation message next to them (the
// settings of an environment, alert rules): each field is a label, its
// input and a message element; a message refused by the API goes to the
// field it names.
import { h } from './util.js';

// formFields builds the fields of form: each { key, label, type (number,
// text, checkbox, select, textarea), options ([value] or [[value, text]]),
// multiple, step, placeholder, hint }. Inputs get the id inputPrefix+key,
// their messages errorPrefix+key. It returns the inputs and messages by
// key, clearErrors, and showError(key, message).
export function formFields(form, fields, inputPrefix, errorPrefix) {
  const inputs = {};
  const messages = {};
  for (const f of fields) {
    const id = inputPrefix + f.key;
    let input;
    if (f.type === 'select') {
      input = h('select', { name: f.key, id, multiple: !!f.multiple },
        (f.options || []).map((o) => (Array.isArray(o) ? h('option', { value: o[0] }, o[1]) : h('option', { value: o }, o))));
    } else if (f.type === 'textarea') {
      input = h('textarea', { name: f.key, id, rows: 2, placeholder: f.placeholder });
    } else {
      input = h('input', { name: f.key, id, type: f.type, step: f.type === 'number' ? f.step || '1' : undefined, placeholder: f.placeholder });
    }
    inputs[f.key] = input;
    messages[f.key] = h('span', { className: 'field-error', id: errorPrefix + f.key, role: 'alert' });
    form.append(h('div', { className: 'field' + (f.type === 'checkbox' ? ' check' : ''), 'data-field': f.key },
      h('label', { for: id }, f.label), input, f.hint ? h('span', { className: 'muted small hint' }, f.hint) : null, messages[f.key]));
  }
  return {
    inputs,
    messages,
    clearErrors() {
      for (const m of Object.values(messages)) m.textContent = '';
      for (const el of Object.values(inputs)) el.removeAttribute('aria-invalid');
    },
    showError(key, message) {
      messages[key].textContent = message;
      inputs[key].setAttribute('aria-invalid', 'true');
      inputs[key].focus();
    },
  };
}
