// The smallest valid scenario file, for the unit tests of the scenario loader (its rule checks, its line
// numbers, the fuzzer's mutations): line 4 is the job.
export const MINIMAL_SCENARIO = `name: demo
summary: a scenario for the unit tests
lab: { servers: 1, clients: 2 }
job: { file: spread.nomad.hcl, id: spread }
roles: { original: "cache[0]#1", replacement: "cache[0]#2", others: [] }
steps:
  - do: run_job
  - do: await
    for: cache[0]#1 running
    all: [{ alloc: "cache[0]#1", client: running }]
    within: 30s
expect:
  transitions:
    - subject: { alloc: "cache[0]#1" }
      field: client
      sequence: [running]
      source: a test
`;
