// The MoE kernels moved beside the backend contract (issue 13): these names stay for compatibility
// and go in a later minor release.
import {
  moeExperts as contractMoeExperts,
  moeRoute as contractMoeRoute,
  swiglu as contractSwiglu,
} from '@dsa/backend';

/** @deprecated Import `moeRoute` from `@dsa/backend`, where the kernel and its composite are defined. */
export const moeRoute = contractMoeRoute;
/** @deprecated Import `moeExperts` from `@dsa/backend`. */
export const moeExperts = contractMoeExperts;
/** @deprecated Import `swiglu` from `@dsa/backend`. */
export const swiglu = contractSwiglu;
