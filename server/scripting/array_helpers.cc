#include "server/scripting/array_helpers.h"

namespace corvus::scripting {

const char* const kArrayHelpersSource = R"JS(
const list = (c) => (Array.isArray(c) ? c : c == null ? [] : typeof c === 'object' ? Object.values(c) : []);
const iteratee = (f) => {
  if (typeof f === 'function') return f;
  if (typeof f === 'string') return (x) => (x == null ? undefined : x[f]);
  if (f != null && typeof f === 'object') return (x) => x != null && Object.keys(f).every((k) => x[k] === f[k]);
  return (x) => x;
};
const compare = (a, b) => (a === b ? 0 : a === undefined ? 1 : b === undefined ? -1 : a < b ? -1 : a > b ? 1 : 0);
const by = (c, fs, orders) => {
  const keys = (Array.isArray(fs) ? fs : [fs]).map(iteratee);
  return list(c)
    .map((v, i) => ({ v, i, k: keys.map((f) => f(v)) }))
    .sort((x, y) => {
      for (let j = 0; j < keys.length; j++) {
        const d = compare(x.k[j], y.k[j]);
        if (d !== 0) return orders && orders[j] === 'desc' ? -d : d;
      }
      return x.i - y.i;
    })
    .map((e) => e.v);
};
const group = (c, f, add) => {
  const g = iteratee(f), out = {};
  for (const v of list(c)) add(out, String(g(v)), v);
  return out;
};
const _ = {
  map: (c, f) => list(c).map((v, i) => iteratee(f)(v, i)),
  filter: (c, f) => list(c).filter((v) => iteratee(f)(v)),
  reject: (c, f) => list(c).filter((v) => !iteratee(f)(v)),
  find: (c, f) => list(c).find((v) => iteratee(f)(v)),
  findIndex: (a, f) => list(a).findIndex((v) => iteratee(f)(v)),
  some: (c, f) => list(c).some((v) => iteratee(f)(v)),
  every: (c, f) => list(c).every((v) => iteratee(f)(v)),
  includes: (c, v) => list(c).includes(v),
  indexOf: (a, v) => list(a).indexOf(v),
  forEach: (c, f) => { list(c).forEach((v, i) => f(v, i)); return c; },
  reduce: (c, f, ...init) => (init.length ? list(c).reduce(f, init[0]) : list(c).reduce(f)),
  uniq: (a) => [...new Set(list(a))],
  uniqBy: (a, f) => { const seen = new Set(), g = iteratee(f); return list(a).filter((v) => { const k = g(v); if (seen.has(k)) return false; seen.add(k); return true; }); },
  flatten: (a) => list(a).flat(),
  flattenDeep: (a) => list(a).flat(Infinity),
  compact: (a) => list(a).filter(Boolean),
  sortBy: (c, fs) => by(c, fs === undefined ? [(x) => x] : fs),
  orderBy: (c, fs, orders) => by(c, fs, Array.isArray(orders) ? orders : [orders]),
  groupBy: (c, f) => group(c, f, (o, k, v) => (o[k] = o[k] || []).push(v)),
  countBy: (c, f) => group(c, f, (o, k) => (o[k] = (o[k] || 0) + 1)),
  keyBy: (c, f) => group(c, f, (o, k, v) => (o[k] = v)),
  sum: (a) => list(a).reduce((s, x) => s + x, 0),
  sumBy: (a, f) => list(a).reduce((s, x) => s + iteratee(f)(x), 0),
  max: (a) => (list(a).length ? list(a).reduce((m, x) => (x > m ? x : m)) : undefined),
  min: (a) => (list(a).length ? list(a).reduce((m, x) => (x < m ? x : m)) : undefined),
  maxBy: (a, f) => { const g = iteratee(f); return list(a).reduce((m, x) => (m === undefined || g(x) > g(m) ? x : m), undefined); },
  minBy: (a, f) => { const g = iteratee(f); return list(a).reduce((m, x) => (m === undefined || g(x) < g(m) ? x : m), undefined); },
  remove: (a, f) => { const g = iteratee(f), out = []; for (let i = 0; i < a.length; ) { if (g(a[i], i)) out.push(...a.splice(i, 1)); else i++; } return out; },
  pull: (a, ...vs) => { for (let i = 0; i < a.length; ) { if (vs.includes(a[i])) a.splice(i, 1); else i++; } return a; },
  without: (a, ...vs) => list(a).filter((v) => !vs.includes(v)),
  difference: (a, ...others) => { const o = new Set(others.flat()); return list(a).filter((v) => !o.has(v)); },
  union: (...as) => [...new Set(as.flatMap(list))],
  intersection: (a, ...others) => list(a).filter((v, i, s) => s.indexOf(v) === i && others.every((o) => list(o).includes(v))),
  concat: (a, ...vs) => list(a).concat(...vs),
  first: (a) => list(a)[0],
  head: (a) => list(a)[0],
  last: (a) => list(a)[list(a).length - 1],
  take: (a, n = 1) => list(a).slice(0, Math.max(0, n)),
  drop: (a, n = 1) => list(a).slice(Math.max(0, n)),
  chunk: (a, n = 1) => { const l = list(a), out = []; for (let i = 0; i < l.length; i += Math.max(1, n)) out.push(l.slice(i, i + Math.max(1, n))); return out; },
  range: (start, end, step) => { if (end === undefined) { end = start; start = 0; } step = step || (start < end ? 1 : -1); const out = []; for (let x = start; step > 0 ? x < end : x > end; x += step) out.push(x); return out; },
  size: (c) => (c == null ? 0 : Array.isArray(c) || typeof c === 'string' ? c.length : Object.keys(c).length),
  isEmpty: (c) => _.size(c) === 0,
  isArray: Array.isArray,
  keys: (o) => (o == null ? [] : Object.keys(o)),
  values: (o) => (o == null ? [] : Object.values(o)),
};
_.each = _.forEach;
Object.defineProperty(globalThis, '_', { value: Object.freeze(_), writable: false, enumerable: false, configurable: false });
)JS";

}  // namespace corvus::scripting
