#!/bin/bash
# Start a single-node SLURM (Debian's slurm-wlm: munged, slurmctld, slurmd) on this machine, for the opt-in
# test tests/cli/test_slurm.py (SERAC_SLURM_TEST=1). Needs root and the packages slurmctld slurmd slurm-client
# munge (apt-get install --no-install-recommends ...). Idempotent: does nothing when sinfo already answers.
# Stop with: scripts/slurm_single_node.sh stop
set -eu
if [ "${1:-start}" = "stop" ]; then
    for pidfile in /var/run/slurmd.pid /var/run/slurmctld.pid /run/munge/munged.pid; do  # the daemons started here
        if [ -s "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
    done
    exit 0
fi
if sinfo -h >/dev/null 2>&1; then exit 0; fi
HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /etc/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /run/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=serac-test
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
munged --force 2>/dev/null || su -s /bin/sh munge -c "munged --force"
slurmctld
slurmd
for _ in $(seq 30); do
    if sinfo -h -o %T 2>/dev/null | grep -qE "idle|mix|alloc"; then exit 0; fi
    sleep 1
done
echo "SLURM did not come up; see /var/log/slurm/" >&2
exit 1
