// The catalog: categories, search, each product's specs, and "add to cart" per spec.
import { api, query } from '../api.js';
import { add, fill, h } from '../dom.js';
import { fmtNumber, t } from '../i18n.js';
import { busy, errorBanner, loading, toast } from '../ui.js';

export async function catalog(ctx) {
  const { main } = ctx;
  const state = { category: ctx.query.category || '', q: ctx.query.q || '' };
  const list = h('div', { class: 'products' }, loading());
  const search = h('input', { type: 'search', id: 'catalog-search', value: state.q, 'aria-label': t('search'), placeholder: t('search') });
  const cats = h('nav', { class: 'categories', 'aria-label': t('nav_catalog') });
  add(main, h('h1', {}, t('nav_catalog')), h('div', { class: 'catalog' }, cats, h('div', {},
    h('form', { class: 'searchbar', role: 'search', onsubmit: (e) => { e.preventDefault(); state.q = search.value.trim(); load(); } },
      search, h('button', { type: 'submit' }, t('search'))), list)));

  const categories = await api('GET', '/catalog/categories');
  const catButton = (id, name, count) => h('button', {
    type: 'button', class: state.category === id ? 'cat active' : 'cat', 'aria-pressed': String(state.category === id),
    onclick: () => { state.category = id; drawCats(); load(); },
  }, name, count !== undefined ? h('span', { class: 'count-muted' }, ` ${count}`) : null);
  function drawCats() {
    fill(cats, catButton('', t('all')), categories.map((c) => h('div', {}, catButton(c.id, c.name, c.product_count),
      h('div', { class: 'subcats' }, (c.children || []).map((s) => catButton(s.id, s.name, s.product_count))))));
  }
  drawCats();

  async function load() {
    fill(list, loading());
    try {
      const page = await api('GET', `/catalog/products${query({ q: state.q, category_id: state.category, page_size: 100 })}`);
      fill(list, page.items.length ? page.items.map(productCard) : h('p', { class: 'empty' }, t('empty')));
    } catch (err) {
      fill(list, errorBanner(err));
    }
  }
  await load();
}

function productCard(product) {
  return h('article', { class: 'card product', dataset: { product: product.code } },
    h('h2', {}, product.name, h('small', { class: 'muted' }, ` ${product.code} · ${product.category_name || ''}`)),
    product.description ? h('p', {}, product.description) : null,
    h('table', { class: 'grid specs' },
      h('thead', {}, h('tr', {}, [t('spec'), t('specs_vcpu'), t('specs_memory'), t('specs_disk'), t('specs_gpu'), t('specs_instances'), t('quantity'), '']
        .map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, (product.specs || []).filter((s) => s.enabled !== false).map(specRow))));
}

function specRow(spec) {
  const qty = h('input', { type: 'number', min: '1', value: '1', class: 'qty', 'aria-label': `${t('quantity')} ${spec.name}` });
  const add = h('button', { type: 'button', dataset: { addSpec: spec.code } }, t('add_to_cart'));
  add.addEventListener('click', () => busy(add, async () => {
    try {
      await api('POST', '/cart/items', { json: { spec_id: spec.id, quantity: Number(qty.value) || qty.value } });
      toast(`${t('added_to_cart')}: ${spec.name} × ${qty.value}`);
    } catch (err) {
      toast(`${err.message}${err.errors?.length ? `: ${err.errors.map((e) => e.message).join('; ')}` : ''}`, 'error');
    }
  }));
  const gpu = spec.gpu_count ? `${spec.gpu_model || ''} × ${spec.gpu_count}` : '—';
  return h('tr', { dataset: { spec: spec.code } }, h('td', {}, spec.name, h('div', { class: 'muted' }, spec.code)),
    h('td', {}, fmtNumber(spec.vcpu)), h('td', {}, fmtNumber(spec.memory_gib)), h('td', {}, fmtNumber(spec.disk_gib)),
    h('td', {}, gpu), h('td', {}, fmtNumber(spec.instances)), h('td', {}, qty), h('td', {}, add));
}
