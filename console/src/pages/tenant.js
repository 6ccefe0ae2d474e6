// The tenant's pages, one module each.
export { catalog } from './catalog.js';
export { cart } from './cart.js';
export { applications, application } from './applications.js';
export { messages } from './messages.js';
