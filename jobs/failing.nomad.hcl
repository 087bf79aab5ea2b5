# A job whose task fails on request: it runs until a file named `fail` appears in its own task
# directory (local/), then exits 1. The harness writes that file into one allocation's directory,
# so exactly that allocation fails. No restarts, and one reschedule in all: the replacement of the
# allocation whose client is cut off uses it, so a failure after that stays a failure.
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

    # One attempt, not zero: from #18701 (1.4.14, 1.5.10, 1.6.3) the replacement of an unknown
    # allocation follows the reschedule policy, so attempts = 0 would mean no replacement at all until
    # lost_after (NOMAD-FACTS §0 item 4). Before it the replacement came at once whatever the policy,
    # and carried the reschedule event all the same. Either way the replacement's tracker then holds
    # the one attempt, so a failed replacement is not replaced.
    reschedule {
      attempts       = 1
      interval       = "24h"
      delay          = "5s"
      delay_function = "constant"
      unlimited      = false
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
