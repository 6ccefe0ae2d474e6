// What the signed-in user may do, from /auth/me's permissions ("*", "organization:*", "task:work"):
// only to choose which pages and buttons to show; the API decides every call.

export function can(me, permission) {
  const granted = me?.permissions || [];
  const [area] = permission.split(':');
  return granted.includes('*') || granted.includes(permission) || granted.includes(`${area}:*`);
}

/** The pages a user sees in the menu, in order: [route, message key]. */
export function menuFor(me) {
  const items = [
    ['/catalog', 'nav_catalog', 'application:create'],
    ['/cart', 'nav_cart', 'application:create'],
    ['/applications', 'nav_applications', 'application:read'],
    ['/inbox', 'nav_inbox', 'task:read'],
    ['/monitor', 'nav_monitor', 'process-instance:read'],
    ['/designer', 'nav_designer', 'process-definition:deploy'],
    ['/forms', 'nav_forms', 'process-definition:deploy'],
    ['/messages', 'nav_messages', 'site-message:read'],
  ];
  return items.filter(([, , perm]) => can(me, perm)).map(([route, key]) => [route, key]);
}

/** Where a user lands after signing in: the first page of their work. */
export function homeFor(me) {
  const roles = me?.roles || [];
  if (roles.includes('process_designer')) return '/designer';
  if (roles.some((r) => ['approver', 'platform_operator', 'platform_admin'].includes(r))) return '/inbox';
  const menu = menuFor(me);
  return menu.length ? menu[0][0] : '/messages';
}
