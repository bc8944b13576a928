export { Mlp } from './mlp.js';
export { Moe, type MoeWeights } from './moe.js';
export { moeExperts } from './moe-experts.js';
export { moeRoute } from './moe-route.js';
export { swiglu } from './swiglu.js';
