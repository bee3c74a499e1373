package io.tether.cluster;

import com.hazelcast.internal.partition.InternalPartition;
import com.hazelcast.internal.partition.InternalPartitionService;
import com.hazelcast.internal.partition.PartitionReplica;

import java.util.UUID;

/** A member's own view of Hazelcast's partition table: which members hold the copies of each partition. */
interface PartitionTable {

  /** Changes whenever the table does. */
  long stamp();

  int partitionCount();

  /** The members holding partition {@code id}'s copies, primary first; empty while it is unassigned. */
  UUID[] replicas(int id);

  /** The table of a running member. */
  static PartitionTable of(InternalPartitionService service) {
    return new PartitionTable() {
      @Override
      public long stamp() {
        return service.getPartitionStateStamp();
      }

      @Override
      public int partitionCount() {
        return service.getPartitionCount();
      }

      @Override
      public UUID[] replicas(int id) {
        InternalPartition partition = service.getPartition(id, false);
        int count = 0;
        UUID[] found = new UUID[InternalPartition.MAX_REPLICA_COUNT];
        for (int i = 0; i < InternalPartition.MAX_REPLICA_COUNT; i++) {
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
