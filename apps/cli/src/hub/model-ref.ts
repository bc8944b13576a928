import { UsageError } from '../usage-error.js';

/** A hub repository and revision, as given on the command line: `ORG/NAME[@REVISION]`. */
export interface ModelRef {
  /** `ORG/NAME`. */
  readonly repo: string;
  /** A branch, tag or commit hash (default `main`). */
  readonly revision: string;
}

/** Hub names: owner and repository of letters, digits, `-`, `_`, `.` (no leading dot or `--`). */
const NAME = /^(?!\.)(?!.*--)[A-Za-z0-9._-]{1,96}$/;
const REVISION = /^[A-Za-z0-9._/-]{1,255}$/;

/** Parses `ORG/NAME[@REVISION]`; `undefined` when `value` has another shape (a path, say). */
export function parseModelRef(value: string): ModelRef | undefined {
  const at = value.indexOf('@');
  const repo = at >= 0 ? value.slice(0, at) : value;
  const revision = at >= 0 ? value.slice(at + 1) : 'main';
  const parts = repo.split('/');
  if (parts.length !== 2 || !parts.every((p) => NAME.test(p))) return undefined;
  if (!REVISION.test(revision) || revision.includes('..')) return undefined;
  return { repo, revision };
}

/** {@link parseModelRef}, throwing a usage error that shows the expected form. */
export function requireModelRef(value: string, what = 'the model'): ModelRef {
  const ref = parseModelRef(value);
  if (!ref)
    throw new UsageError(
      `${what} "${value}" is not a hub name: expected ORG/NAME or ORG/NAME@REVISION (a branch, tag or commit)`,
    );
  return ref;
}
