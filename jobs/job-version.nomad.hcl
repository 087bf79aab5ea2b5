# The job-version case, version 0 (see jobs/job-version-v2.nomad.hcl for the update).
job "job-version" {
  datacenters = ["dc1"]

  # The update block used: all allocations at once, healthy once the task runs for 1 s, no
  # canaries, no auto-revert. An env change makes the update destructive (new allocations).
  update {
    max_parallel      = 2
    health_check      = "task_states"
    min_healthy_time  = "1s"
    healthy_deadline  = "1m"
    progress_deadline = "2m"
    auto_revert       = false
  }

  group "cache" {
    count = 2

# nomad-lab: if version >= 1.8
    disconnect {
      lost_after = "1h"
    }
# nomad-lab: else
    max_client_disconnect = "1h"
# nomad-lab: end

    spread {
      attribute = "${node.datacenter}"
    }
    spread {
      attribute = "${node.unique.name}"
    }

    reschedule {
      delay          = "5s"
      delay_function = "constant"
      unlimited      = true
    }

    task "redis" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["86400"]
      }

      env {
        JOB_1ISION = "1"
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
