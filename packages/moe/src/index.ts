export { moeExperts, moeRoute, swiglu } from './kernel-aliases.js';
export { Mlp } from './mlp.js';
export { Moe, type MoeWeights } from './moe.js';
