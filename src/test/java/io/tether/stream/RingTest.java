package io.tether.stream;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class RingTest {

  private static byte[] bytes(int n) {
    return new byte[n];
  }

  @Test
  void offsetsStayDenseAcrossEvictionByCount() {
    Ring ring = new Ring(3, 1_000, Offset.ZERO);
    for (int i = 0; i < 5; i++) {
      assertThat(ring.append(bytes(10))).isEqualTo(new Offset(i, i * 10L));
    }
    assertThat(ring.size()).isEqualTo(3);
    assertThat(ring.first()).isEqualTo(new Offset(2, 20));
    assertThat(ring.tail()).isEqualTo(new Offset(5, 50));
    assertThat(ring.bytesAt(3)).isEqualTo(30);
  }

  @Test
  void evictsByBytesKeepingTheNewestEvent() {
    Ring ring = new Ring(100, 25, Offset.ZERO);
    ring.append(bytes(10));
    ring.append(bytes(10));
    ring.append(bytes(20));
    assertThat(ring.size()).isEqualTo(1);
    assertThat(ring.retainedBytes()).isEqualTo(20);
    assertThat(ring.first()).isEqualTo(new Offset(2, 20));
  }

  @Test
  void sliceReturnsAtLeastOneEventAndRespectsTheBudget() {
    Ring ring = new Ring(100, 1_000, Offset.ZERO);
    for (int i = 0; i < 5; i++) {
      ring.append(bytes(40));
    }
    assertThat(ring.slice(0, 100)).hasSize(2);
    assertThat(ring.slice(0, 10)).hasSize(1);
    assertThat(ring.slice(4, 1_000)).hasSize(1);
  }

  @Test
  void clearKeepsTheTailPosition() {
    Ring ring = new Ring(10, 1_000, Offset.ZERO);
    ring.append(bytes(7));
    ring.append(bytes(3));
    ring.clear();
    assertThat(ring.size()).isZero();
    assertThat(ring.first()).isEqualTo(new Offset(2, 10));
    assertThat(ring.tail()).isEqualTo(new Offset(2, 10));
  }

  @Test
  void wrapsAroundWithoutLosingOrder() {
    Ring ring = new Ring(4, 1_000, Offset.ZERO);
    for (int i = 0; i < 11; i++) {
      ring.append(new byte[] {(byte) i});
    }
    assertThat(ring.slice(7, 100)).extracting(b -> (int) b[0]).containsExactly(7, 8, 9, 10);
  }
}
