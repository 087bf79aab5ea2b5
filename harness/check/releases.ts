// Which Nomad releases behave which way, as semver ranges with their sources. The harness keys
// checks, bounds and scenario expectations on these; a new behaviour change gets a line here.

/** Releases with the strict reconnect steps: NOMAD-FACTS 1.5 and the version table (1.3.10/1.4.5/1.5.0, #15808). */
export const STRICT_RECONNECT = '>=1.3.10 <1.4.0 || >=1.4.5 <1.5.0 || >=1.5.0';

/**
 * Releases where an allocation that goes unknown is replaced per its reschedule policy (after the
 * delay; not at all while the job's deployment is active) instead of at once: PR #18701, backported
 * as #18898 (1.4.14), #18899 (1.5.10), #18884 (1.6.3), in 1.7.0 (NOMAD-FACTS §0 item 4). Releases
 * 1.8.0-1.11.1 with a `disconnect` block replace at once again; none of those are built here.
 */
export const RESCHEDULE_ON_DISCONNECT = '>=1.4.14 <1.5.0 || >=1.5.10 <1.6.0 || >=1.6.3';

/**
 * Releases under the Business Source License, which this project never builds or fetches (users bring
 * such binaries with --nomad): every release from 1.7.0, and the patch releases of 1.5.x from 1.5.13
 * and of 1.6.x from 1.6.6 (LICENSE at each tag: MPL-2.0 up to v1.5.12 and v1.6.5; docs/findings.md).
 */
export const BUSL = '>=1.5.13 <1.6.0 || >=1.6.6';
