package io.tether.cluster;

import com.hazelcast.internal.partition.InternalPartition;
import com.hazelcast.internal.partition.InternalPartitionService;
import com.hazelcast.internal.partition.PartitionReplica;

import java.util.UUID;

/** A member's own view of Hazelcast's partition table: which members hold the copies of each partition. */
interface PartitionTable {

  int partitionCount();

  /** The members holding partition {@code id}'s copies, primary first; empty while it is unassigned. */
  UUID[] replicas(int id);

  /**
   * The table of a running member, for a map with {@code copies} copies of each entry (1 + its backup
   * count): Hazelcast's table names a replica on up to seven members, of which a map uses the first
   * {@code copies}.
   */
  static PartitionTable of(InternalPartitionService service, int copies) {
    int used = Math.min(copies, InternalPartition.MAX_REPLICA_COUNT);
    return new PartitionTable() {
      @Override
      public int partitionCount() {
        return service.getPartitionCount();
      }

      @Override
      public UUID[] replicas(int id) {
        InternalPartition partition = service.getPartition(id, false);
        int count = 0;
        UUID[] found = new UUID[used];
        for (int i = 0; i < used; i++) {
          PartitionReplica replica = partition.getReplica(i);
          if (replica != null) {
            found[count++] = replica.uuid();
          }
        }
        return java.util.Arrays.copyOf(found, count);
      }
    };
  }
}
