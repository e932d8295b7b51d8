"""The leaderboard page's prose: what the data shows, written after reading the tables and the
sample grids, and what was not run. Update it whenever the stored results change."""

FINDINGS = """\
Read with the tables above; "detectable" means the paired difference survives Holm's correction
over all 75 mnist5k comparisons (15 pairs × 5 metrics), which with 5 seeds needs a large,
consistent effect.

- **The centroid constraint: no detectable difference from its baseline in any form.** With BCE:
  scale-free λ = 0.5, λ = 2, the paper's raw form, 10 k-means centres and one centre per class all
  move FD in the independent evaluator by −0.2 to −0.55 (about 5–15 % of BCE's 3.61) with every
  other metric unchanged; one of these intervals excludes 0 before correction (10 centres: −0.55
  [−1.02, −0.09]), and none survives the correction. With hinge: −0.15 [−0.24, −0.06] scale-free
  and −0.26 [−0.50, −0.01] in the paper's form (both uncorrected only). With DiffAugment: +0.35
  [−1.01, +1.71]. Nothing here shows more digits, more legible digits or more kinds of digits:
  with BCE or hinge the accepted-as-digit fractions stay at 0.48–0.52 against 0.94 for real
  digits, and the centroid setups' grids above look like BCE's: a similar mix of legible and
  malformed strokes.
- **Early in training the constraint helps, and a random feature space helps at least as much.**
  At 300 steps BCE + centroid has FD 12.6 against BCE's 16.9 (−4.4 [−5.9, −2.8]) and more samples
  accepted as digits (+0.08); the random-feature control does better still (FD −7.3, accepted
  +0.20; trained − random accepted −0.12, all surviving the correction within the curves' table).
  At 600 steps both raise pixel recall (+0.21 trained, +0.32 random). At 1,200 and 2,400 steps
  only a small FD shift is left (−0.35 and −0.30 [−0.56, −0.04], neither surviving the correction;
  nothing else differs). This is the pull toward the centre of the data that the outside check
  described: it turns BCE's early speckled blobs into digit-like blobs sooner, and it needs no
  learned features. Counted in wall time it is not a clear saving: the penalty makes each step
  about 1.6× as long, so BCE + centroid reaches BCE's 600-step FD (6.52) in 122–140 s on every
  seed, and BCE itself in 77–83 s on two seeds and 144–173 s on three.
- **Whatever the constraint does at 1,200 steps, a random feature space does as well.** The
  randomly initialised `mnist-features` at the same scale-free λ gives FD −0.42 [−1.18, +0.35]
  against BCE; trained − random is +0.06 [−0.36, +0.49] on FD and contains 0 on every metric. The
  small FD shift, if real, is a pull toward the centre of the data that any feature space
  provides, not a benefit of pretrained features.
- **Too large a λ destroys training.** At scale-free λ = 8 two of five seeds output a uniform grey
  image (the penalty's minimiser: every sample at the centre), one a single faint mode, and two
  degraded digits: recall −0.66 [−0.69, −0.63] (detectable), FD +66 on average. λ = 2 behaves like
  λ = 0.5. Keep λ well below the point where the penalty outweighs the adversarial loss; the
  scale-free form makes that point comparable across spaces.
- **The paper's raw form behaves like the scale-free form at matched λ**: raw λ = 0.1 in
  `mnist-features` (d_ref ≈ 5, so about scale-free λ = 0.5) gives FD 3.42 [3.14, 3.70] against
  3.26 [2.90, 3.61], and both stay indistinguishable from BCE.
- **Hinge beats BCE before correction** (FD −0.61 [−0.93, −0.28], precision +0.09, recall +0.03,
  all uncorrected); it is the largest improvement on this page and does not survive the correction
  either.
- **DiffAugment and LeCam, at the settings tried, are worse than BCE here.** Both lose pixel
  recall (DiffAugment −0.61, LeCam −0.40, detectable) and accepted fraction (−0.04 and −0.06,
  uncorrected); DiffAugment's FD is worse (+2.4 [+1.3, +3.5], uncorrected). Their grids show why:
  DiffAugment's digits are thinner and smaller, LeCam's faint and smeared. Both were designed for
  longer training and larger models (BigGAN, StyleGAN2); 1,200 steps of DCGAN-32 on 5,000 digits
  is not that regime, and one setting each (DiffAugment's paper policy with colour ops on grey
  digits; LeCam λ = 0.3) was tried. R1 (γ = 0.01, lazy) changes nothing detectable.
- **A caveat on pixel recall.** k-NN recall depends on the spread of the generated set: the median
  3-NN distance among 1,000 samples of each seed, in pixels, is 13.8–14.3 for BCE, 10.6–11.1 for
  DiffAugment, 11.6–12.6 for LeCam, and 12.6 among real digits. Noisier samples have larger radii
  and so "cover" more real digits; part of BCE's recall advantage over DiffAugment and LeCam is
  that spread. FD in `mnist-evaluator`, which has no such radius, is also worse for DiffAugment
  but not detectably for LeCam (+0.27 [−0.16, +0.70]).
- **Training longer helps far more than any regularizer here**: plain BCE goes from FD 3.61 at
  1,200 steps to 1.92 at 2,400, and from 0.50 to 0.59 of its samples accepted as digits.
- **Every setup is far from real digits**: FD 2.8–6.0 (λ = 8 aside) against the floor's 0.48,
  about half the samples accepted as digits against 94 %. Differences between regularizers are
  small next to the distance that remains.
"""

MIXTURES = """\
- **2-D mixtures: the centroid in the paper's form changes nothing detectable**; with one centre
  per component, with the paper's single centre, per class, with BCE, LSGAN or hinge, every paired
  interval on modes covered and high-quality fraction contains 0 (5 seeds, Holm over the 32
  comparisons). The scale-free form at λ = 0.5 is another matter: in the scaled identity space
  d_ref is 0.005–0.01, so it weighs each unit of distance 50–100, some 500–1,000 times the raw λ =
  0.1, and every seed of both mixtures collapses onto a single component: high-quality fraction
  1.00 ("higher, survives Holm") with 1 mode of 8 or 25. That "gain" is mode collapse, the 2-D
  version of λ = 8 on mnist5k; a quality measure without a coverage measure would have called it a
  success. LeCam raises the ring's high-quality fraction (+0.66 [+0.53, +0.80], surviving the
  correction; its mode count is not detectably different); R1 and LeCam cover more of the grid
  (+6.8 and +7.0 modes, uncorrected only). DiffAugment has no 2-D counterpart and is not run
  there.
"""

NOT_RUN = """\
- The control's 2,400-step point (`python experiments/curves.py --all`), and lengths beyond 2,400
  steps.
- The CelebA 64×64 protocol (`experiments/celeba64_paper.md`) and the GPU check
  (`benchmarks/gpu_check.sh`): no GPU was available to this project; see
  [Benchmarks](benchmarks.md).
- More than one setting of R1, LeCam and DiffAugment, and density/coverage (which is robust to the
  spread effect above) on these runs.
"""
