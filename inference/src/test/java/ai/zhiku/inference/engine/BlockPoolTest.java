package ai.zhiku.inference.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class BlockPoolTest {
  private static final int BS = 4;

  private static long[] keys(BlockPool p, int[] ids) {
    long[] k = new long[ids.length / BS];
    for (int i = 0; i < k.length; i++) k[i] = p.chain(i == 0 ? BlockPool.ROOT : k[i - 1], ids, i * BS);
    return k;
  }

  @Test
  void sharesPublishedPrefixesAndCountsHits() {
    BlockPool p = new BlockPool(8, BS);
    int[] a = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    long[] ka = keys(p, a);
    int b0 = p.allocate();
    int b1 = p.allocate();
    p.publish(b0, ka[0], BlockPool.ROOT, a, 0);
    p.publish(b1, ka[1], ka[0], a, 4);
    // the same first block, another second one
    int[] b = {1, 2, 3, 4, 5, 6, 7, 0, 9};
    int[] got = p.takePrefix(keys(p, b), b, 2);
    assertThat(got).containsExactly(b0);
    assertThat(p.queries()).isEqualTo(8);
    assertThat(p.hits()).isEqualTo(4);
    // a is released by its owner: both blocks stay cached; b0 is still held by the second sequence
    p.release(new int[] {b0, b1}, 2);
    assertThat(p.used()).isEqualTo(1);
    assertThat(p.available()).isEqualTo(7);
    assertThat(p.takePrefix(ka, a, 2)).containsExactly(b0, b1);
  }

  @Test
  void aKeyAloneIsNotEnough_theTokensAndTheParentMustMatchToo() {
    BlockPool p = new BlockPool(4, BS);
    int[] a = {1, 2, 3, 4};
    int b0 = p.allocate();
    long forged = 42;
    p.publish(b0, forged, BlockPool.ROOT, a, 0);
    int[] other = {9, 9, 9, 9};
    assertThat(p.takePrefix(new long[] {forged}, other, 1)).isEmpty(); // same key, other tokens
    assertThat(p.takePrefix(new long[] {forged}, a, 1)).containsExactly(b0);
  }

  @Test
  void givesOutFreeBlocksFirstThenEvictsTheLeastRecentlyReleasedCachedOne() {
    BlockPool p = new BlockPool(3, BS);
    int[] ids = {1, 2, 3, 4, 5, 6, 7, 8};
    long[] k = keys(p, ids);
    int x = p.allocate();
    int y = p.allocate();
    p.publish(x, k[0], BlockPool.ROOT, ids, 0);
    p.publish(y, k[1], k[0], ids, 4);
    p.release(new int[] {y}, 1); // y is released first: the oldest cached
    p.release(new int[] {x}, 1);
    assertThat(p.cachedBlocks()).isEqualTo(2);
    int z = p.allocate(); // the one never-used block
    assertThat(z).isNotIn(x, y);
    assertThat(p.allocate()).isEqualTo(y);
    assertThat(p.contains(k[1])).isFalse();
    assertThat(p.contains(k[0])).isTrue();
    assertThat(p.allocate()).isEqualTo(x);
    assertThat(p.allocate()).isEqualTo(-1);
    assertThat(p.cachedBlocks()).isZero();
  }

  @Test
  void refusesReleasingABlockMoreOftenThanItWasHeld() {
    BlockPool p = new BlockPool(2, BS);
    int b = p.allocate();
    p.release(new int[] {b}, 1);
    assertThatThrownBy(() -> p.release(new int[] {b}, 1)).isInstanceOf(IllegalStateException.class);
  }
}
