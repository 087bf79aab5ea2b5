# A job whose task fails on request: it runs until a file named `fail` appears in its own task
# directory (local/), then exits 1. The harness writes that file into one allocation's directory,
# so exactly that allocation fails. No restarts and no rescheduling, so a failure stays a failure.
job "failing" {
  datacenters = ["dc1"]

  group "cache" {
    count = 2

# nomad-lab: if version >= 1.8
    disconnect {
      lost_after = "1h"
    }
# nomad-lab: else
    max_client_disconnect = "1h"
# nomad-lab: end

    # As in the seed's spread job; the second block keeps the two allocations on two clients.
    spread {
      attribute = "${node.datacenter}"
    }
    spread {
      attribute = "${node.unique.name}"
    }

    restart {
      attempts = 0
      mode     = "fail"
    }

    reschedule {
      attempts  = 0
      unlimited = false
    }

    task "redis" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "while [ ! -e \"$NOMAD_TASK_DIR/fail\" ]; do sleep 0.5; done; echo 'failing on purpose'; exit 1"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
