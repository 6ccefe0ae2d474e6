// An application's quote: what its lines cost over the next 30 days, priced by the server
// (POST /quotes, the code that bills them), money shown in the user's locale. Where no price
// applies the server's reason is shown instead.
import { api } from './api.js';
import { fill, h } from './dom.js';
import { groupErrors } from './fielderrors.js';
import { fmtDate, fmtMoney, t } from './i18n.js';
import { can } from './perms.js';

const DAYS = 30;

/** A button that asks the server for the quote and shows it in place (asked on demand: pricing an
 * application runs the billing code over every day of the period). */
export function quoteBox(me, applicationId, now = () => new Date()) {
  if (!can(me, 'billing:quote')) return null;
  const box = h('div', { class: 'quote', id: 'quote' });
  const ask = h('button', { type: 'button', id: 'ask-quote' }, t('quote'));
  ask.addEventListener('click', () => {
    const today = now();
    const start = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()));
    const end = new Date(start.getTime() + DAYS * 86400000);
    fill(box, h('span', { class: 'muted' }, t('loading')));
    api('POST', '/quotes', { json: { application_id: applicationId, start: start.toISOString(), end: end.toISOString() } })
      .then((q) => fill(box, h('strong', { class: 'quote-total' }, `${t('quote')}: ${fmtMoney(q.total, q.currency)}`),
        h('span', { class: 'muted' }, ` (${fmtDate(start.toISOString())} – ${fmtDate(end.toISOString())})`)))
      .catch((err) => {
        const { fields, general } = groupErrors(err.errors);
        const reasons = [...new Set([...Object.values(fields).flat(), ...general])];
        fill(box, h('span', { class: 'quote-refused' }, `${t('quote')}: ${reasons.length ? reasons.join('; ') : err.message}`));
      });
  });
  return h('div', { class: 'actions' }, ask, box);
}
