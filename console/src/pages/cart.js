// The cart, and an application made from it (a draft, or submitted at once).
import { api, idempotencyKey } from '../api.js';
import { add, fill, h } from '../dom.js';
import { t } from '../i18n.js';
import { busy, errorBanner, field, FormErrors, loading, section, table } from '../ui.js';

export async function cart(ctx) {
  const { main } = ctx;
  const lines = h('div', {}, loading());
  add(main, h('h1', {}, t('nav_cart')), lines);
  let current = await api('GET', '/cart');

  function drawLines() {
    fill(lines, table([
      { label: t('product'), render: (l) => l.product_name },
      { label: t('spec'), render: (l) => `${l.spec?.name || ''}` },
      { label: t('specs_gpu'), render: (l) => (l.spec?.gpu_count ? `${l.spec.gpu_model} × ${l.spec.gpu_count}` : '—') },
      { label: t('quantity'), render: (l) => quantityInput(l) },
      { label: t('actions'), render: (l) => h('button', { type: 'button', class: 'link', onclick: async () => {
        current = await api('DELETE', `/cart/items/${encodeURIComponent(l.id)}`);
        drawLines();
      } }, t('remove')) },
    ], current.items, { empty: t('cart_empty'), rowKey: (l) => l.id }));
  }

  function quantityInput(line) {
    const input = h('input', { type: 'number', min: '1', class: 'qty', value: String(line.quantity), 'aria-label': t('quantity') });
    input.addEventListener('change', async () => {
      try {
        current = await api('PATCH', `/cart/items/${encodeURIComponent(line.id)}`, { json: { quantity: Number(input.value) } });
        drawLines();
      } catch (err) {
        lines.prepend(errorBanner(err));
      }
    });
    return input;
  }
  drawLines();
  if (!current.items.length) return;

  const systems = await api('GET', '/business-systems?page_size=100');
  const system = field('business_system_id', t('business_system'), h('select', {},
    systems.items.map((s) => h('option', { value: s.id }, `${s.name} (${s.code})`))));
  const title = field('title', t('title'), h('input', { maxlength: '200' }));
  const purpose = field('purpose', t('purpose'), h('textarea', { rows: '3' }));
  const submitNow = h('input', { type: 'checkbox', id: 'submit-now' });
  const errors = new FormErrors([system, title, purpose, field('cart_item_ids', '', h('input', { type: 'hidden' }))]);
  const create = h('button', { type: 'submit', class: 'primary', id: 'create-application' }, t('create_application'));
  let key = idempotencyKey(); // one per attempt: a retry after a network error repeats it
  add(main, section(t('new_application'), h('form', { novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    busy(create, async () => {
      errors.clear();
      try {
        const app = await api('POST', '/applications', { headers: { 'Idempotency-Key': key }, json: {
          business_system_id: system.input.value, title: title.input.value, purpose: purpose.input.value,
          cart_item_ids: current.items.map((l) => l.id), submit: submitNow.checked } });
        ctx.navigate(`/applications/${app.id}`);
      } catch (err) {
        if (err.status) key = idempotencyKey(); // answered: the next try is a new request
        errors.show(err);
      }
    });
  } }, errors.banner, system.el, title.el, purpose.el,
  h('div', { class: 'field inline' }, submitNow, h('label', { for: 'submit-now' }, t('submit_now'))), create)));
}
