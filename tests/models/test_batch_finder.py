"""The largest-batch search, against a stand-in for a GPU's memory (the narrowest seam: whether
a batch of a size fits)."""

from digits.models import batch_finder


def gpu_with_room_for(largest: int):
    tried = []

    def try_batch(batch: int) -> tuple[float, int]:
        tried.append(batch)
        if batch > largest:
            raise batch_finder.DoesNotFit()
        return 0.001 * batch, 1000 * batch

    return try_batch, tried


def test_it_doubles_then_narrows_down_to_a_sixteenth():
    try_batch, tried = gpu_with_room_for(100)
    tries = batch_finder.Tries("cuda")
    batch_finder.search(try_batch, tries, batch_finder.MAX_BATCH)
    assert tried[:8] == [1, 2, 4, 8, 16, 32, 64, 128]  # doubling until one does not fit
    assert 94 <= tries.largest <= 100  # then halving the gap between 64 and 128
    assert len(tried) <= 13
    assert tries.proposal() == int(tries.largest * 0.9) // 8 * 8  # a margin, in 8s
    fitted = [row for row in tries.rows if row["fits"]]
    assert all(row["images_per_sec"] == 1000 for row in fitted)


def test_a_network_that_never_fits_and_one_that_always_does():
    tries = batch_finder.Tries("cuda")
    batch_finder.search(gpu_with_room_for(0)[0], tries, batch_finder.MAX_BATCH)
    assert tries.largest is None and tries.proposal() is None
    roomy = batch_finder.Tries("cuda")
    batch_finder.search(gpu_with_room_for(10**9)[0], roomy, 512)
    assert roomy.largest == 512 and roomy.proposal() == 456
