import { type KeptStep, predictedIoUDrop, steadyShrink } from './sam1/carryHistoryStops.js';
import { MedsamError } from '../common/errors.js';
import type { Sam1Decoded, Sam1Embedding, Sam1Prompt } from '../engine/sam1Engine.js';
import { boxFromMask, recistToBox, type Box, type VolumePrompt } from './prompts.js';
import type { SliceEmbeddings } from './sam1/embeddingCache.js';
import { agreement, buildIntensityModel, smooth3x3, type IntensityModel } from './sam1/intensityModel.js';
import { promptsWithClick, type SliceClick } from './sam1/correction.js';
import { intensityExtent } from './sam1/intensityExtent.js';
import { boxJitterDecoder, flipAveraged } from './sam1/testTimeEnsemble.js';
import { binarise, dilate, interiorPoint, intersectionCount, keepComponentsOverlapping, maskArea } from './sam1/maskOps.js';
import { anchoredNegativePrompt, boxlessRefines, cutNegativeClick } from './sam1/negativeClick.js';
import { addPositiveClick } from './sam1/positiveClick.js';
import { settleClickCarries } from './sam1/clickReach.js';
import { trimCarried, trimFromCorrection } from './sam1/negativeClickTrim.js';
import { OUTWARD_MIN_RATIO, outwardTrimRatio } from './sam1/negativeClickTrimOutward.js';
import { looksKept, shiftedBox, shiftedPrompt, shiftedSide } from './sam1/negativeClickShift.js';
import { cropAround, sameRect, touchesCropEdge, wholeSlice, ZoomedSlices, type CropRect } from './sam1/zoomedSlices.js';
import { refineDecoded, refiningDecoder } from './sam1/refiningDecoder.js';
import { followModel } from './sam1/followingIntensity.js';
import { seenLevelsOnly } from './sam1/seenLevels.js';
import { fusedMask, gaussianWeight, overlapWeight } from './sam1/throughPlaneFusion.js';

/** Anything that decodes a prompt on an embedded slice (Sam1Engine does). */
export interface Sam1Decoder {
  decode(emb: Sam1Embedding, prompt: Sam1Prompt, maskInput?: Float32Array): Promise<Sam1Decoded>;
}

/**
 * How one object is carried from its key slice to its neighbours. The defaults are the method
 * measured in the experiments summarised in docs/propagation-experiments.md; each rule is explained where it is applied.
 */
export interface Sam1PropagationOptions {
  /**
   * Proposals per slice: the previous mask's bounding box shrunk per side by these fractions of its
   * width/height. Default [0, 0.1, 0.2, 0.3]. Without a usable intensity model only the first is used.
   */
  boxInsets?: number[];
  /** Feed the previous slice's low-res logits as the decoder's mask prompt. Default true. */
  useMaskInput?: boolean;
  /** Add a positive click at the previous mask's deepest interior pixel. Default true. */
  anchorPoint?: boolean;
  /** Use the key slice's intensity model to choose proposals and to stop. Default true. */
  intensityModel?: boolean;
  /**
   * Minimum key-slice separability (balanced accuracy) for the intensity model to be used. Default
   * 0.65 (was 0.75): measured on every shared set, 0.65 stopped the right kidney's 5-slice overshoot
   * and helped MR and the held-back organs without changing the lesions (docs/propagation-experiments.md).
   */
  minSeparability?: number;
  /** Stop once less than this fraction of the chosen proposal is object-like. Default 0.5. */
  minObjectFraction?: number;
  /** Stop once the mask is smaller than this fraction of the key slice's mask. Default 0.1. */
  minAreaFraction?: number;
  /**
   * Leakage clip: a propagated mask is kept within the previous slice's mask grown by this fraction
   * of its equivalent radius (at least 1 px). Undefined = off.
   */
  leakMargin?: number;
  /** Stop once the mask grows beyond this factor of the previous slice's area ('leak'). Undefined = off. */
  maxGrowth?: number;
  /** Stop once the mask's centroid moves more than this fraction of the previous equivalent radius ('jump'). Undefined = off. */
  maxCentroidShift?: number;
  /** Stop once the mask shrinks below this fraction of the previous slice's area ('collapse'). Undefined = off. */
  minAreaRatio?: number;
  /** Stop once the decoder's own IoU estimate for the chosen mask falls below this ('uncertain'). Undefined = off. */
  minPredictedIoU?: number;
  /**
   * Stop once the decoder's IoU estimate falls more than this below the mean of the last 3 kept
   * slices' estimates ('iou-drop'; from the third propagated slice on). Undefined = off (session 12,
   * src/predictor/sam1/carryHistoryStops.ts).
   */
  maxIoUDrop?: number;
  /**
   * Stop once the mask shrank below `ratio` × the previous slice's area on each of the last `slices`
   * slices ('shrinking'). Undefined = off (session 12, carryHistoryStops.ts).
   */
  steadyShrink?: { slices: number; ratio: number };
  /**
   * Stop once the chosen mask's stability score (SAM's: IoU of logits > 1 vs logits > −1) falls
   * below this ('unstable'). Undefined = off.
   */
  minStability?: number;
  /**
   * Cycle check: the new mask is carried one slice back; when that mask's IoU with the slice's
   * actual mask is below this, the step went to another structure ('cycle'). Costs one decode per
   * slice. Undefined = off.
   */
  minCycleIoU?: number;
  /**
   * Proposal choice: intensity agreement (Dice) plus this weight times the proposal's IoU with the
   * previous mask (continuity). Default 0: intensity alone.
   */
  continuityWeight?: number;
  /**
   * A proposal from a grown box (negative inset) is only kept when its area is at most this factor of
   * the previous slice's: it may undo the decoder's shrinking drift but not leak. Undefined = no cap.
   */
  maxGrownRatio?: number;
  /**
   * Re-anchoring on the image (src/predictor/sam1/intensityExtent.ts): one more proposal per slice,
   * prompted with the box of this slice's object-like pixels that touch the previous mask (the
   * intensity model's extent) instead of the previous mask's box. 'propose': it competes with the
   * inset proposals on every slice; 'rescue': it is tried only when every inset proposal is mostly
   * background (or empty), and kept only when it is not. Undefined or 'off' = off. Needs the intensity model.
   * Default 'rescue' (session 15, with seenLevels 1, intensityBoxMaxRatio 1 and intensityBoxMinIoU 0.7):
   * MR glioma 0.626 → 0.767, CT lesion 000002 0.725 → 0.754; without the IoU guard two held-back organs
   * ran past their ends (docs/propagation-experiments.md, "Issue 13, session 15"). 'off' turns it off.
   */
  intensityBox?: 'propose' | 'rescue' | 'off';
  /**
   * The intensity vote calls object only the grey levels the key mask showed (at least this many of its
   * pixels in the level's bin; src/predictor/sam1/seenLevels.ts): a level neither the key mask nor its
   * ring holds votes surroundings instead of object. Default 1 (session 15); 0 = off (the Laplace-smoothed
   * vote alone). followIntensity re-votes from its blended histograms without this restriction.
   */
  seenLevels?: number;
  /** An intensity-box proposal is kept only when its area is at most this factor of the previous slice's. Default 1; Infinity = no cap. */
  intensityBoxMaxRatio?: number;
  /**
   * An intensity-box proposal is kept only when the decoder's own IoU estimate for it is at least this
   * (the re-anchored box is a guess made from intensities). Default 0.7 (session 15): on the held-back
   * organs the two rescues onto a neighbour read 0.46 and 0.57, the glioma's 0.91; the threshold was
   * set after seeing those, then checked on a second held-back set never looked at before (22 more
   * ct-organs / ct-series labels: +0.0003 mean DSC, no object more past its end). 0 = off.
   */
  intensityBoxMinIoU?: number;
  /**
   * An intensity-box proposal is kept only when at least this fraction of it lies inside the previous
   * slice's mask (an object's next cross-section towards its end lies within the last one). Undefined = off.
   */
  intensityBoxMinInside?: number;
  /**
   * A slice whose mask came from the intensity box is kept only when that mask, carried one slice
   * back, gives the previous slice's mask with at least this IoU (the cycle check, applied to
   * re-anchored steps only); otherwise propagation stops there ('background'). Undefined = off.
   */
  intensityBoxMinCycleIoU?: number;
  /**
   * Logit threshold of the decoder's masks (SAM's is 0). Above 0 trims the soft rim the decoder adds
   * around an object on coarse slices (ct-organs' 3 mm pixels: masks 1.3–1.5× the reference). Default 0.
   */
  maskThreshold?: number;
  /**
   * Logit threshold of the masks handed out (the result), while the next slice's box is still built
   * from the mask at maskThreshold: trims the decoder's rim without feeding the smaller mask back into
   * propagation (which drifts short). Never trims a slice to nothing. Undefined = no trimming.
   */
  outputThreshold?: number;
  /**
   * Box jitter (test-time ensemble, src/predictor/sam1/testTimeEnsemble.ts): the key slice's box prompt
   * is decoded as the mean logits of the box and its variants moved / grown / shrunk by this many slice
   * pixels (7 decodes instead of 1, same embedding). Undefined = off.
   */
  boxJitter?: number;
  /** Apply boxJitter to every propagation proposal too (7× the decodes per slice). Default false. */
  boxJitterSteps?: boolean;
  /**
   * Flip ensemble on the key slice: its box prompt is decoded on the plain and on the left-right
   * mirrored slice (one extra encoder run per key) and the logits averaged. Default false.
   */
  keyFlip?: boolean;
  /** Diagnostics: called for every propagated slice with the signals the stop rules read. */
  onStep?: (s: StepSignals) => void;
  /**
   * Hand SAM pixel-edge coordinates: a box [x0, y0, x1, y1] of inclusive pixel indices becomes
   * [x0, y0, x1 + 1, y1 + 1] and a click on pixel (x, y) lands on its centre (x + 0.5, y + 0.5).
   * Default true (see the decoder wrapper below for why).
   */
  pixelEdges?: boolean;
  /** Slices to go at most from the key in each direction (default: to the volume's end). */
  maxSlices?: number;
  /**
   * Masks the object had before a correction, by slice: on a key slice that is not a mask prompt
   * they are fed to the decoder with the key's clicks (SAM's iterative refinement). Set by correctObject.
   */
  priorMasks?: ReadonlyMap<number, Uint8Array>;
  /**
   * Slice of the key that describes the object (its intensity model and its size for the tip rule).
   * Default: the key with the largest cross-section. correctObject keeps the first propagation's, so a
   * corrected slice never replaces the user's key as the object's description.
   */
  mainKey?: number;
  /**
   * What the last click on a corrected slice does when it is negative: 'anchored' (default) — it
   * only removes, cutting the clicked blob and pinning what is left (src/predictor/sam1/negativeClick.ts;
   * measured in docs/propagation-experiments.md); 'model' — whatever the decoder makes of box + clicks.
   */
  negativeClicks?: 'model' | 'anchored';
  /**
   * The box of a corrected slice whose last click is negative (anchored): 'keep' — decoded with
   * the key's box (a new key's is the box of the mask being corrected); 'drop' — the clicks and the
   * logits of the mask being corrected alone (SAM's interactive decode after the first prompt), except
   * on the main key (mainKey), whose box is the user's. The box of an over-segmented mask holds the
   * decoder to the over-segmentation; the anchored cut keeps the answer inside that mask either way.
   * 'guarded' (default since session 10) — decoded both ways (one more decode per negative click), the
   * box-less answer kept only when it refines the boxed one (src/predictor/sam1/negativeClick.ts,
   * boxlessRefines): 'drop' collapsed small organs' slices to a blob round the anchored pin (ct-organs
   * label 20). Measured (docs/propagation-experiments.md, "Issue 13, session 10"): after 3 clicks
   * ct-lesion 0.8768 → 0.8892, organs-tune 0.7657 → 0.7669, held back 0.6351 → 0.6341, mr 0.5047 → 0.5325.
   */
  negativeClickBox?: 'keep' | 'drop' | 'guarded';
  /**
   * On the user's own key slice (mainKey, where they drew the box): a negative click's answer that
   * keeps less than this share of the mask being corrected minus the clicked disc is a collapse —
   * the decoder lost the object, not the clicked blob — and the mask minus the disc is kept instead.
   * Measured (session 10): a Kvasir polyp's second negative click took its picture 0.91 → 0.35 DSC
   * (109,631 → 24,086 px for a 102,363-px reference); with the floor 0.92. Kvasir after 3 clicks
   * 0.855 → 0.920; ct-lesion, organs-tune, organs-heldout and mr identical after every click. On
   * every corrected slice instead of the main key it cost the MR FLAIR lesion 0.03 after 3 clicks (its
   * leaked propagated slices rightly lose most of their mask). 0: off.
   */
  negativeClickFloor?: number;
  /**
   * What the last click on a corrected slice does when it is positive: 'additive' (default) — it
   * only adds: the part of the decoder's answer connected to the click near the mask being corrected
   * (src/predictor/sam1/positiveClick.ts; measured in docs/propagation-experiments.md); 'model' —
   * whatever the decoder makes of box + clicks.
   */
  positiveClicks?: 'model' | 'additive';
  /**
   * Between two keys that both hold the object, the smaller key fills what the larger one's carry did
   * not reach with no stop rule but a lost mask: the object is on every slice between two of its keys.
   * Default true (measured on clicks past an organ's propagated end, docs/propagation-experiments.md:
   * before, the corrected key's carry stopped at once and the 3D largest-component filter dropped the
   * click's slice, so the click did nothing). Only objects with several keys are affected.
   */
  bridgeKeys?: boolean;
  /**
   * The object's masks before a correction, by slice (set by correctObject and the session's tracker);
   * see keepBeyondStop.
   */
  previousMasks?: ReadonlyMap<number, Uint8Array>;
  /**
   * Where the carry from a corrected key (one with clicks, not the main key) stops by a rule, the
   * slices beyond it up to the next key keep their previousMasks: a click corrects the object near
   * its slice and does not delete the rest. Default true (docs/propagation-experiments.md).
   */
  keepBeyondStop?: boolean;
  /**
   * A slice carried from a corrected key whose last click is positive keeps its previousMasks and
   * gains the carry's mask: a positive click only adds, beyond its slice too
   * (src/predictor/sam1/clickReach.ts). Default false since session 8: adopted in session 7 for ct-organs
   * label 86's first click, but with each propagated slice refined (refineSteps 1) it costs that label
   * 0.028 after 3 clicks and gains nowhere (every other object of every set identical; BENCHMARKS.md).
   */
  positiveCarryAdds?: boolean;
  /**
   * SAM's iterative refinement on propagated slices (src/predictor/sam1/refiningDecoder.ts): the chosen
   * proposal is decoded this many more times with its own prompt and its own low-res logits as the mask
   * prompt (+1 decode per slice and step); refineGate says when the answer is kept, refineMode what it
   * is used for. Default 1, gated by score, output only: measured on every shared set (docs/
   * propagation-experiments.md, "Issue 13, session 8"), the refined mask carried on or read by the stop
   * rules gained more on the CT sets but cost the MR objects 0.03–0.05 (it ran the FLAIR lesion 4 slices
   * further); handed out only where the image agrees at least as well, no set lost. 0 = off.
   */
  refineSteps?: number;
  /**
   * When the refined mask replaces the chosen one: 'always'; 'score' (default) when it scores at least as
   * well (intensity agreement, + continuity when weighted; without an intensity model every mask ties, so
   * always); 'iou' when the decoder's IoU estimate for it is at least the proposal's.
   */
  refineGate?: 'always' | 'score' | 'iou';
  /**
   * What the refined mask is: 'stops' the slice's mask everywhere (carried, read by the stop rules,
   * handed out); 'carry' carried and handed out while the stop rules read the proposal; 'output'
   * (default) only handed out: propagation and its stops are exactly those without refinement.
   */
  refineMode?: 'stops' | 'carry' | 'output';
  /** Refine every proposal instead of the chosen one (refineSteps more decodes per proposal). Default false. */
  refineProposals?: boolean;
  /** The same refinement of the user's key slice decode (box / clicks without a mask being corrected). Default 0. */
  refineKeySteps?: number;
  /** The same refinement of a corrected (clicked) slice's decode. Default 0. */
  refineClickSteps?: number;
  /**
   * The low-res logits the decoder gave each slice before a correction (ObjectPropagation.lowRes, set
   * by correctObject). With clickLogits 'stored', a corrected slice's clicks are decoded with these as
   * the mask prompt (SAM's standard interactive decode) instead of the logits of its prior mask decoded again.
   */
  priorLowRes?: ReadonlyMap<number, Float32Array>;
  /** Mask prompt of a corrected slice: 'redecode' (default) the prior mask's box decoded again; 'stored' priorLowRes where it has the slice. */
  clickLogits?: 'redecode' | 'stored';
  /**
   * Zoomed decoding (src/predictor/sam1/zoomedSlices.ts): each object is decoded on an embedding of a
   * crop around it, a square of this many times its key box's longer side (at least zoomMinSide px),
   * instead of the whole slice; where a propagated mask reaches the crop's edge the slice is decoded
   * again in a crop re-centred on it, which the following slices keep. A crop that would be as large
   * as the slice is the slice's own embedding. Costs one encode per slice and object. 0 / undefined = off.
   */
  zoom?: number;
  /** Smallest crop side in slice pixels for zoom. Default 32. */
  zoomMinSide?: number;
  /**
   * Where zoom applies: 'propagate' — every decode of the object is made in its crop (above);
   * 'output' — the propagation runs on whole slices as without zoom (same masks carried, same stops),
   * and each slice's mask handed out is decoded once more with its own box in a crop around it
   * (the oracle's protocol, scripts/accuracy/oracleBoxes.ts); 'masks' — the object is propagated
   * twice, on whole slices (which decides where it is: its extent and stops) and zoomed ('propagate'),
   * and each slice of the first takes the zoomed mask where the zoomed propagation reached it.
   * Default 'propagate'.
   */
  zoomMode?: 'propagate' | 'output' | 'masks';
  /** zoomMode 'output' re-decodes the chosen proposal's own prompt and mask input (not the mask's box alone). Default false. */
  zoomOutPrompt?: boolean;
  /**
   * Zoomed clicked slices (issue 13, session 9): a key with clicks (a corrected slice) is decoded — its
   * clicks, box and the mask being corrected — on the embedding of a crop of this many times the box
   * of its prompt and that mask (at least zoomClickMinSide px) instead of the whole slice. A small
   * object is a few dozen model pixels wide on a whole 512-px slice. Keys without clicks and slices
   * the object is carried to are decoded as without it (zoomClickCarry says which crop its carry uses).
   * 0 / undefined = off.
   */
  zoomClicks?: number;
  /**
   * Smallest crop side for zoomClicks, in slice pixels. Default 128: a crop is decoded at the model's
   * 1024 px, so 128 px is 8 model px per slice pixel, about what a whole 122-px ct-organs slice
   * already gets (8.4); a smaller crop only magnifies blur (session 8: small organs zoomed lose). So
   * objects on slices under ~128 px are never zoomed, and the size rule is geometry, not a per-set tune.
   */
  zoomClickMinSide?: number;
  /**
   * With zoomClicks, the crop the carry from a zoomed clicked key decodes its neighbours in: 'whole'
   * (default) the whole slice as without zoom (the key's logits resampled into it); 'crop' the key's
   * crop (re-centred where a mask reaches its inner edge).
   */
  zoomClickCarry?: 'whole' | 'crop';
  /** Which clicked keys zoomClicks zooms, by their last click: 'all' (default) or 'positive' only. */
  zoomClickKind?: 'all' | 'positive';
  /** Called after each slice is decided, with its mask when the slice is kept (undefined: the object stops before it). */
  onSlice?: (slice: number, mask?: Uint8Array) => void;
  /**
   * An intensity model that follows the object (src/predictor/sam1/followingIntensity.ts): after each
   * kept slice whose mask is at least followMinObject object-like, the carry's model blends this fraction
   * of that slice's histograms into its own (each carry starts from the key's model). Undefined = off.
   */
  followIntensity?: number;
  /** How object-like a kept slice must be (under the current model) to teach it. Default 0.75. */
  followMinObject?: number;
  /**
   * Through-plane fusion of the masks handed out (src/predictor/sam1/throughPlaneFusion.ts): each
   * propagated or box-key slice's mask comes from the weighted mean of its logits and its neighbours'
   * (±1 slice, within the propagated extent), weights a Gaussian of the slices' distance in mm whose
   * width is this fraction of the object's equivalent radius in mm (its main key's mask): a small object
   * changes faster from slice to slice than a large one. Carries and stops are unchanged. Undefined = off.
   */
  fuseSlices?: number;
  /**
   * How fuseSlices weighs a neighbour: 'spacing' (default) as above; 'overlap' by the IoU of its mask with
   * the slice's own to the power fuseSlices (no spacing read: an object that changes fast between slices leans on them less);
   * 'both' the spacing weight times that IoU.
   */
  fuseWeight?: 'spacing' | 'overlap' | 'both';
  /**
   * Which propagations fuseSlices fuses: 'all' (default) or 'corrections' only (previousMasks given: a
   * re-propagation after a click), so the one-box answer stays as without fusion.
   */
  fuseSlicesOn?: 'all' | 'corrections';
  /**
   * A negative click trims the slices carried towards it (src/predictor/sam1/negativeClickTrim.ts): on a
   * corrected key whose last click is negative, the logit threshold that best turns the decoder's answer
   * for the mask before the click into the corrected mask is found, and the larger key's carry towards
   * that key hands its masks out trimmed at it: 'gated' where the intensity model agrees at least as
   * well (without one, always), 'always' everywhere, 'area' never below the straight line between the
   * two keys' areas (a slice already under it is kept; the default since session 11), 'off'. Carries
   * and stops are unchanged. Measured (BENCHMARKS.md, "Simulated clicks (session 11 …)"): ct-lesion after
   * 1 / 2 / 3 clicks 0.8513 / 0.8758 / 0.8892 → 0.8552 / 0.8811 / 0.8910 with 'area' (lesion 000002
   * 0.8136 → 0.8252 after 3, 000001 0.9410 → 0.9384, 000009 0.9130 → 0.9094); 'always' cost 000009 0.025 after 3 (its click
   * on the lesion's over-segmented end slice trimmed an under-segmented neighbour), 'gated' kept the
   * untrimmed masks where trimming helped.
   */
  negativeClickTrim?: 'off' | 'gated' | 'always' | 'area';
  /**
   * The carry beyond a negatively clicked key (not the main key), towards the volume's end, hands its
   * masks out trimmed at that key's negativeClickTrim threshold, each keeping at least the share of its
   * untrimmed mask that the click kept of its own slice (src/predictor/sam1/negativeClickTrimOutward.ts).
   * Needs negativeClickTrim on. `true` (session 12): measured (BENCHMARKS.md, "Simulated clicks (session 12 …)"),
   * ct-lesion after 3 clicks 0.8910 → 0.8926 and mr 0.5325 → 0.5349, but organs-tune 0.7667 → 0.7592 (ct-organs
   * labels 2 and 3). 'once' (session 14, the default; false turns it off): the floor is the click's ratio times the mask the slice had before the
   * correction the click made, and a later correction's re-propagation never trims a slice below the
   * mask it had before that correction: with `true` every later click trimmed the carry beyond an
   * older key again, on top of the trim the slice already had (ct-organs label 2: slices 10–18, right
   * after click 1, 252 / 242 / 242 px for 256 / 256 / 242, went to 209 / 225 / 171 with click 2 on
   * the user's key). And a click that kept less than OUTWARD_MIN_RATIO (half) of its slice trims nothing
   * beyond it: such a click says its slice was mostly wrong, not that the object is that much smaller
   * further on (ct-organs label 3's first click kept 107 of 338 px, reference 155). Measured (BENCHMARKS.md,
   * "Simulated clicks (session 14 …)"): after 1 / 2 / 3 clicks ct-lesion 0.8552 / 0.8811 / 0.8910 → 0.8552 /
   * 0.8825 / 0.8925, organs-tune 0.7355 / 0.7576 / 0.7667 → 0.7381 / 0.7575 / 0.7669, mr identical.
   */
  negativeClickTrimOutward?: boolean | 'once';
  /**
   * A negative click on a key other than the main one also reads as "the mask is shifted"
   * (src/predictor/sam1/negativeClickShift.ts; issue 13, session 15): when the click kept at least half of
   * its slice (OUTWARD_MIN_RATIO) and cut one side more than the other, the slice is decoded again with
   * the old mask's box moved away from the cut (the click, and a pin at what it kept), and the part of that
   * answer outside the old mask that touches what the click kept is shown too, when it is no larger than
   * what the click removed and looks in grey level more like what the click kept than what it removed.
   * The carry from the slice stays seeded with the cut mask. Measured (BENCHMARKS.md, "Simulated clicks
   * (session 15 …)"): ct-lesion after 2 / 3 / 5 clicks 0.8825 / 0.8925 / 0.9062 → 0.8842 / 0.8951 / 0.9089
   * (lesion 000002 0.8296 → 0.8374 after 3), organs-tune +0.0001 on one label, held back +0.0003 after 3, mr
   * and Kvasir identical. The default since session 15; false turns it off.
   */
  negativeClickShift?: boolean;
  /**
   * The clicks whose outward trim is not in the masks yet, by slice, with the sides still to carry it
   * ('down' towards slice 0, 'up' towards the last): negativeClickTrimOutward 'once' tells these new
   * clicks' keys from older ones, whose trim the previous masks already hold. correctObject sets its
   * click on both sides; a session sets every click made since the last propagation over that side
   * (two clicks before one Propagate, or a forward run then a backward one).
   */
  newClicks?: ReadonlyMap<number, ReadonlySet<ClickSide>>;
  /** Voxel spacing in mm: in-plane x, y and between slices (fuseSlices reads it). Default [1, 1, 1]. */
  voxelSpacing?: readonly [number, number, number];
}

/** A side of a key slice: 'down' towards slice 0, 'up' towards the last slice. */
export type ClickSide = 'down' | 'up';

/** newClicks for one click on both sides (correctObject's). */
export const clickOnBothSides = (slice: number): ReadonlyMap<number, ReadonlySet<ClickSide>> =>
  new Map([[slice, new Set<ClickSide>(['down', 'up'])]]);

export type StopReason =
  | 'volume-end'
  | 'limit'
  | 'empty'
  | 'lost'
  | 'tip'
  | 'background'
  | 'next-key'
  | 'leak'
  | 'jump'
  | 'collapse'
  | 'uncertain'
  | 'unstable'
  | 'cycle'
  | 'iou-drop'
  | 'shrinking';

/** What one propagation step saw (diagnostics; stop-rule research reads these). */
export interface StepSignals {
  slice: number;
  dir: -1 | 1;
  /** Chosen mask's area, the previous slice's, and the main key's (pixels). */
  area: number;
  prevArea: number;
  keyArea: number;
  /** Decoder's IoU estimate and SAM's stability score of the chosen proposal. */
  predictedIoU: number;
  stability: number;
  /** Fraction of the chosen mask that is object-like (1 without an intensity model). */
  objectFraction: number;
  /** IoU of the chosen mask with the previous slice's mask. */
  prevIoU: number;
  /** Centroid shift in units of the previous mask's equivalent radius. */
  centroidShift: number;
  /** The cycle check's IoU (only when minCycleIoU is set). */
  cycleIoU?: number;
  /** Fraction of the chosen mask inside the previous slice's mask. */
  insidePrev: number;
  /** Whether the chosen mask came from the intensity-box proposal (intensityBox). */
  reanchored: boolean;
  /** Why propagation stopped at this slice (undefined: the slice was kept). */
  stop?: StopReason;
}

export interface ObjectPropagation {
  /** Binary row-major slice masks by slice index (only slices where the object was found). */
  masks: Map<number, Uint8Array>;
  /** Per key slice: why propagation stopped towards lower / higher indices, and whether the intensity model was used. */
  stops: { key: number; down: StopReason; up: StopReason; intensityModel: boolean; separability: number }[];
  /** The masks corrected key slices were refined from (priorMasks as given); correctObject carries them on. */
  priors?: ReadonlyMap<number, Uint8Array>;
  /** Slice of the key the object's description came from (see mainKey); correctObject carries it on. */
  main?: number;
  /** With clickLogits 'stored': the decoder's low-res logits of each slice whose mask is its answer (see priorLowRes). */
  lowRes?: ReadonlyMap<number, Float32Array>;
}

const DEFAULTS = {
  boxInsets: [0, 0.1, 0.2, 0.3],
  useMaskInput: true,
  anchorPoint: true,
  intensityModel: true,
  minSeparability: 0.65,
  minObjectFraction: 0.5,
  minAreaFraction: 0.1,
  pixelEdges: true,
  negativeClicks: 'anchored' as const,
  positiveClicks: 'additive' as const,
  bridgeKeys: true,
  keepBeyondStop: true,
  positiveCarryAdds: false,
  refineSteps: 1,
  refineGate: 'score' as 'always' | 'score' | 'iou',
  refineProposals: false,
  refineMode: 'output' as 'stops' | 'carry' | 'output',
  refineKeySteps: 0,
  refineClickSteps: 0,
  clickLogits: 'redecode' as 'redecode' | 'stored',
  zoomMinSide: 32,
  negativeClickBox: 'guarded' as 'keep' | 'drop' | 'guarded',
  negativeClickFloor: 0.3 as number | undefined,
  zoomClickMinSide: 128,
  zoomClickCarry: 'whole' as 'whole' | 'crop',
  zoomClickKind: 'all' as 'all' | 'positive',
  negativeClickTrim: 'area' as 'off' | 'gated' | 'always' | 'area',
  negativeClickTrimOutward: 'once' as boolean | 'once',
  negativeClickShift: true,
  intensityBox: 'rescue' as 'propose' | 'rescue' | 'off',
  seenLevels: 1,
  intensityBoxMaxRatio: 1,
  intensityBoxMinIoU: 0.7,
} satisfies Sam1PropagationOptions;
/** The options with every default filled in (the rest stay optional: undefined = off). */
type Resolved = Omit<Sam1PropagationOptions, keyof typeof DEFAULTS> & { [K in keyof typeof DEFAULTS]-?: (typeof DEFAULTS)[K] };

/** `opts` with the defaults where a field is missing or undefined (as `??` per field would). */
function resolveOptions(opts: Sam1PropagationOptions): Resolved {
  const o: Sam1PropagationOptions = { ...opts };
  for (const k of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) Object.assign(o, { [k]: opts[k] ?? DEFAULTS[k] });
  return o as Resolved;
}

/** The key-slice prompt (in slice pixel coordinates) as a decoder prompt. */
export function keyDecoderPrompt(p: VolumePrompt, width: number, height: number): Sam1Prompt {
  const out: Sam1Prompt = {};
  if (p.box) out.box = p.box;
  if (p.points?.length) out.points = p.points.map((q) => ({ x: q.x, y: q.y, label: q.label }));
  if (p.recist) {
    // The RECIST long axis gives MedSAM2's square box; its midpoint lies on the lesion, so it is
    // also a safe positive click (MedSAM2's 'from_recist_center' prompt).
    if (!out.box) out.box = recistToBox(p.recist, width, height);
    const [x0, y0, x1, y1] = p.recist;
    (out.points ??= []).push({ x: (x0 + x1) / 2, y: (y0 + y1) / 2, label: 1 });
  }
  return out;
}

/**
 * Segments one object on its key slice(s) and carries it slice by slice in both directions.
 * Several prompts for the same object (several key slices): the outermost keys carry it outwards;
 * between two keys the larger cross-section carries it first and the smaller fills the rest.
 */
export async function propagateObject(
  decoder: Sam1Decoder,
  slices: SliceEmbeddings,
  prompts: VolumePrompt[],
  opts: Sam1PropagationOptions = {},
): Promise<ObjectPropagation> {
  if (opts.zoom && opts.zoomMode === 'masks') return zoomedMasks(decoder, slices, prompts, opts);
  const o = resolveOptions(opts);
  if (!o.boxInsets.length || o.boxInsets.some((s) => !(s > -0.5 && s < 0.5))) {
    throw new MedsamError(`boxInsets [${o.boxInsets.join(', ')}] must be fractions in (-0.5, 0.5)`, 'use e.g. [0, 0.1, 0.2, 0.3]');
  }
  const { width: w, height: h, count } = slices;
  // Zoomed decoding: prompts and logits stay in slice coordinates, the decoder beneath sees crops.
  const zoomed = new ZoomedSlices(slices, decoder);
  const zoomOut = !!o.zoom && opts.zoomMode === 'output';
  const outDecoder = o.pixelEdges ? pixelEdgeDecoder(zoomed.decoder) : zoomed.decoder;
  const zoomPropagate = !!o.zoom && !zoomOut;
  // zoomClicks: only keys with clicks are decoded in crops, through the same crop-aware decoder.
  const zoomClicks = !zoomPropagate && !!o.zoomClicks;
  if (zoomPropagate || zoomClicks) decoder = zoomed.decoder;
  /** The crop for an object around `box` (the whole slice without zoom). */
  const cropFor = (box: Box | undefined): CropRect =>
    zoomPropagate && box ? cropAround(box, o.zoom!, o.zoomMinSide, w, h) : wholeSlice(w, h);
  /** The crop of a zoomed clicked key (zoomClicks) around `box`. */
  const clickCropFor = (box: Box): CropRect => cropAround(box, o.zoomClicks!, o.zoomClickMinSide, w, h);
  /** A decoded mask reaching its crop's inner edge: the crop re-centred on it and its prompt box (undefined: keep the crop). */
  const recrop = (mask: Uint8Array, rect: CropRect, also?: () => Box | undefined, clickCrop = false): CropRect | undefined => {
    if (!zoomPropagate && !clickCrop) return undefined;
    const b = boxFromMask(mask, w, h);
    if (!b || !touchesCropEdge(b, rect, w, h)) return undefined;
    const a = also?.();
    const u = a ? unionBox(b, a) : b;
    const next = clickCrop ? clickCropFor(u) : cropFor(u);
    return sameRect(next, rect) ? undefined : next;
  };
  if (o.pixelEdges) decoder = pixelEdgeDecoder(decoder);
  // Test-time ensembles (opt-in): the key's box decode, and with boxJitterSteps every proposal's.
  const keyDecoder = opts.boxJitter ? boxJitterDecoder(decoder, opts.boxJitter) : decoder;
  if (opts.boxJitter && opts.boxJitterSteps) decoder = keyDecoder;
  const keys = [...prompts].sort((a, b) => a.slice - b.slice);
  const masks = new Map<number, Uint8Array>();
  // Kept only for clickLogits 'stored' (256 KiB per slice).
  const lowResBySlice = o.clickLogits === 'stored' ? new Map<number, Float32Array>() : undefined;
  // Full-resolution logits of the masks handed out, kept only for fuseSlices.
  const fuseLogits = o.fuseSlices && (o.fuseSlicesOn !== 'corrections' || opts.previousMasks) ? new Map<number, Float32Array>() : undefined;
  const stops: ObjectPropagation['stops'] = [];

  // Every key slice first: which keys hold the object decides how far each key's propagation reaches.
  /** trim: negativeClickTrim's logit threshold for the carry towards this key (0: none). */
  const decoded: { keyMask: Uint8Array; keyLow: Float32Array; area: number; rect: CropRect; clickCrop: boolean; trim: number }[] = [];
  for (const p of keys) {
    const prior = opts.priorMasks?.get(p.slice);
    // The key's crop covers its prompt and the mask being corrected, so a click decodes where the object is.
    const kp = keyDecoderPrompt(p, w, h);
    // Only zoom reads it: without zoom the mask scans would be work on every key for nothing.
    const promptBox = (): Box | undefined =>
      [
        kp.box,
        p.mask && boxFromMask(p.mask, w, h),
        kp.points?.length ? pointsBox(kp.points) : undefined,
        prior && boxFromMask(prior, w, h),
      ].reduce<Box | undefined>((a, b) => (a && b ? unionBox(a, b) : (a ?? b ?? undefined)), undefined);
    // zoomClicks: a key with clicks is decoded in a crop around its prompt and the mask being corrected.
    const clicked = zoomClicks && !!p.points?.length && (o.zoomClickKind === 'all' || p.points.at(-1)!.label === 1);
    let rect = zoomPropagate ? cropFor(promptBox()) : clicked ? clickCropFor(promptBox()!) : wholeSlice(w, h);
    let k = await decodeKey(p, prior, rect);
    const wider = recrop(k.keyMask, rect, promptBox, clicked);
    if (wider) k = await decodeKey(p, prior, (rect = wider));
    const { keyMask, keyLow, shown, logits: keyLogits, trim } = k;
    // zoomMode 'output' re-decodes a user's plain box key in its crop (a click's key keeps its own answer).
    const out =
      zoomOut && !p.points?.length && !p.mask && !prior
        ? await zoomedOutput(p.slice, shown ?? keyMask, opts.zoomOutPrompt ? kp : undefined)
        : (shown ?? keyMask);
    masks.set(p.slice, out);
    // Only a user's plain box key is fused with its neighbours (a clicked slice keeps what the click made).
    if (keyLogits && out === (shown ?? keyMask) && !p.points?.length && !prior) fuseLogits?.set(p.slice, keyLogits);
    lowResBySlice?.set(p.slice, keyLow);
    opts.onSlice?.(p.slice, out);
    // zoomClickCarry 'whole': the carry from a zoomed clicked key decodes whole slices (its logits resampled).
    const cropCarry = clicked && o.zoomClickCarry === 'crop';
    decoded.push({
      keyMask,
      keyLow,
      area: maskArea(keyMask),
      rect: clicked && !cropCarry ? wholeSlice(w, h) : rect,
      clickCrop: cropCarry,
      trim: p.slice === opts.mainKey ? 0 : (trim ?? 0),
    });
  }
  /** zoomMode 'output': the mask decoded again from its own box in a crop around it (the mask itself where that is empty or the crop is the slice). */
  async function zoomedOutput(k: number, mask: Uint8Array, prompt?: Sam1Prompt, maskInput?: Float32Array): Promise<Uint8Array> {
    const b = boxFromMask(mask, w, h);
    if (!b) return mask;
    const rect = cropAround(prompt?.box ? unionBox(b, prompt.box) : b, o.zoom!, o.zoomMinSide, w, h);
    if (sameRect(rect, wholeSlice(w, h))) return mask;
    const d = await outDecoder.decode(await zoomed.embedding(k, rect), prompt ?? { box: b }, maskInput);
    const m = keepComponentsOverlapping(binarise(d.logits, o.maskThreshold), mask, w, h);
    return maskArea(m) ? m : mask;
  }
  /** One key slice decoded in crop `rect`. */
  async function decodeKey(
    p: VolumePrompt,
    prior: Uint8Array | undefined,
    rect: CropRect,
  ): Promise<{ keyMask: Uint8Array; keyLow: Float32Array; shown?: Uint8Array; logits?: Float32Array; trim?: number }> {
    const emb = await zoomed.embedding(p.slice, rect);
    let keyMask: Uint8Array;
    let keyLow: Float32Array;
    let shown: Uint8Array | undefined;
    let logits: Float32Array | undefined;
    let trim: number | undefined;
    if (p.mask) {
      keyMask = Uint8Array.from(p.mask, (v) => (v ? 1 : 0));
      // The decoder's own low-res logits for this object seed the next slice's mask prompt.
      keyLow = (await decoder.decode(emb, anchorPrompt(keyMask, w, h, 0, true))).lowRes;
    } else {
      // A corrected slice: SAM's iterative refinement — the clicks plus the decoder's logits for
      // the mask being corrected, so a click edits that mask instead of starting over.
      const stored = o.clickLogits === 'stored' ? opts.priorLowRes?.get(p.slice) : undefined;
      const lastClick = p.points?.[p.points.length - 1];
      // negativeClickTrim reads the full-resolution logits of the prior's decode (decoded even when stored).
      const trimming = o.negativeClickTrim !== 'off' && lastClick?.label === 0;
      const priorDecoded =
        prior && maskArea(prior) && (!stored || trimming) ? await decoder.decode(emb, anchorPrompt(prior, w, h, 0, true)) : undefined;
      const priorLow = prior && maskArea(prior) ? (stored ?? priorDecoded!.lowRes) : undefined;
      const cut = o.negativeClicks === 'anchored' && !!priorLow && lastClick?.label === 0;
      const add = o.positiveClicks === 'additive' && !!priorLow && lastClick?.label === 1;
      const prompt = cut ? anchoredNegativePrompt(keyDecoderPrompt(p, w, h), prior!, lastClick!, w, h) : keyDecoderPrompt(p, w, h);
      // negativeClickBox 'drop': the box a click's key got from the over-segmented mask would hold the
      // decoder to it. The main key's box is the user's own: kept (dropped there, ct-organs label 20's
      // key collapsed, 1338 -> 87 px, and the whole object with it). 'guarded': both decoded, the
      // box-less answer taken only where it refines the boxed one (negativeClick.ts, boxlessRefines).
      const dropBox = cut && o.negativeClickBox !== 'keep' && p.slice !== opts.mainKey && !!prompt.box;
      if (dropBox && o.negativeClickBox === 'drop') delete prompt.box;
      // The user's own key (no mask being corrected): the opt-in test-time ensembles apply here.
      let d = priorLow
        ? await decoder.decode(emb, prompt, priorLow)
        : opts.keyFlip && !o.zoom
          ? await flipAveraged(keyDecoder, emb, await slices.mirrored(p.slice), prompt, w, h)
          : await keyDecoder.decode(emb, prompt);
      d = await refineDecoded(decoder, emb, prompt, d, priorLow ? o.refineClickSteps : o.refineKeySteps);
      if (dropBox && o.negativeClickBox === 'guarded') {
        const free = { ...prompt };
        delete free.box;
        const df = await refineDecoded(decoder, emb, free, await decoder.decode(emb, free, priorLow), o.refineClickSteps);
        const boxed = cutNegativeClick(binarise(d.logits, o.maskThreshold), prior!, lastClick!, w, h);
        const boxless = cutNegativeClick(binarise(df.logits, o.maskThreshold), prior!, lastClick!, w, h);
        if (boxlessRefines(boxed, boxless)) {
          d = df;
          delete prompt.box;
        }
      }
      keyMask = binarise(d.logits, o.maskThreshold);
      keyLow = d.lowRes;
      shown = trimmed(keyMask, d.logits, o.outputThreshold);
      if (o.outputThreshold === undefined) logits = d.logits;
      if (cut || add) {
        keyMask = cut ? cutNegativeClick(keyMask, prior!, lastClick!, w, h) : addPositiveClick(keyMask, prior!, lastClick!, w, h);
        if (cut && o.negativeClickFloor !== undefined && p.slice === opts.mainKey) {
          const rest = cutNegativeClick(prior!, prior!, lastClick!, w, h);
          if (maskArea(keyMask) < o.negativeClickFloor * maskArea(rest)) keyMask = rest;
        }
        shown = undefined;
        logits = undefined;
        if (cut && trimming) trim = trimFromCorrection(priorDecoded!.logits, prior!, keyMask);
        // The next slice is seeded with logits of the mask kept, not of what was cut or left out.
        if (maskArea(keyMask)) keyLow = (await decoder.decode(emb, anchorPrompt(keyMask, w, h, 0, true))).lowRes;
        // negativeClickShift: the clicked slice decoded again with its box moved away from the cut.
        if (cut && o.negativeClickShift && p.slice !== opts.mainKey && maskArea(keyMask)) {
          const box = maskArea(keyMask) >= OUTWARD_MIN_RATIO * maskArea(prior!) ? shiftedBox(prior!, keyMask, w, h) : undefined;
          const pin = box && interiorPoint(keyMask, w, h);
          if (box && pin) {
            const moved = await decoder.decode(emb, shiftedPrompt(box, lastClick!, pin), keyLow);
            const added = shiftedSide(keyMask, binarise(moved.logits, o.maskThreshold), prior!, w, h);
            const removed = Uint8Array.from(prior!, (v, i) => (v && !keyMask[i] ? 1 : 0));
            // The slice shows the moved outline; its carry is seeded with the cut mask (keyMask, keyLow), the
            // click's own evidence: seeded with the moved one, lesion 000002's carry beyond slice 8 ran a slice
            // past the lesion's end (304 px where the reference has none, 3D 0.830 -> 0.807 after 3 clicks).
            if (added && looksKept(smooth3x3(slices.pixels(p.slice), w, h), keyMask, removed, added))
              shown = Uint8Array.from(keyMask, (v, i) => (v || added[i] ? 1 : 0));
          }
        }
      }
    }
    return { keyMask, keyLow, shown, logits, trim };
  }
  // The object's appearance and size come from its largest key cross-section (the user's main key;
  // a corrected slice near the object's end is too small to describe it).
  // A click near the object's end can give a corrected key larger than the user's (an over-segmented
  // tip): measured on the aorta, that key's model stopped the user's key at once and the click cost
  // 0.29 DSC. So once chosen, the main key stays (mainKey) while it still holds the object.
  const given = keys.findIndex((p) => p.slice === opts.mainKey);
  const main = given >= 0 && decoded[given]!.area ? given : decoded.reduce((b, d, i) => (d.area > decoded[b]!.area ? i : b), 0);
  const mainArea = decoded[main]!.area;
  // A one-slice stack (an interactive click: the key mask alone) has no neighbour to carry to, so
  // the model would decide nothing; building it costs more than the click's JS work otherwise.
  const keySmoothed = mainArea && count > 1 ? smooth3x3(slices.pixels(keys[main]!.slice), w, h) : undefined;
  const built = keySmoothed ? buildIntensityModel(keySmoothed, decoded[main]!.keyMask, w, h) : undefined;
  const model = built && o.seenLevels ? seenLevelsOnly(built, keySmoothed!, decoded[main]!.keyMask, o.seenLevels) : built;
  // The intensity vote is only trusted when it separates the key object from its own
  // surroundings clearly better than chance (halfway between chance, 0.5, and perfect, 1).
  const useModel = o.intensityModel && !!model && model.separability >= o.minSeparability;

  const stopsByKey = keys.map((p) => ({
    key: p.slice,
    down: 'empty' as StopReason,
    up: 'empty' as StopReason,
    intensityModel: useModel,
    separability: model?.separability ?? 0,
  }));
  stops.push(...stopsByKey);
  const smoothed = (k: number) => smooth3x3(slices.pixels(k), w, h);
  /** Which key's carry decided each slice (clickReach reads it). */
  const carriedBy = new Map<number, number>();
  /** Carries key i towards `dir` through slices up to `end` (inclusive), never into a slice already decided. */
  const carry = async (
    i: number,
    dir: -1 | 1,
    end: number,
    atEnd: StopReason,
    bridge = false,
    trim?: { t: number; floor?: (k: number, untrimmed: number) => number; ratio?: number },
  ): Promise<void> => {
    const { keyMask, keyLow } = decoded[i]!;
    let rect = decoded[i]!.rect;
    let prev = keyMask,
      prevLow = keyLow;
    let reason: StopReason = atEnd;
    let lastTried = keys[i]!.slice + dir;
    // followIntensity: this carry's own copy of the model, taught by the slices it keeps.
    let current = model;
    // maxIoUDrop / steadyShrink: what this carry kept so far.
    const keptSteps: KeptStep[] = [];
    for (let k = keys[i]!.slice + dir, n = 1; dir < 0 ? k >= end : k <= end; k += dir, n++) {
      lastTried = k;
      if (masks.has(k)) {
        reason = 'next-key';
        break;
      }
      if (opts.maxSlices !== undefined && n > opts.maxSlices) {
        reason = 'limit';
        break;
      }
      const intensity = useModel && !bridge ? { model: current!, smoothed: smoothed(k) } : undefined;
      let step = await propagateStep(decoder, await zoomed.embedding(k, rect), prev, prevLow, w, h, o, intensity);
      // Zoom: a mask cut by its crop's edge is decoded again in a crop re-centred on it and the previous mask.
      const wider = recrop(step.mask, rect, () => boxFromMask(prev, w, h), decoded[i]!.clickCrop);
      if (wider) step = await propagateStep(decoder, await zoomed.embedding(k, (rect = wider)), prev, prevLow, w, h, o, intensity);
      // The object's tip: for a roughly ellipsoidal object only ~0.5% of its volume lies beyond the
      // slice where the cross-section drops to 10% of the largest one, while past that point the
      // decoder, still handed a box, latches onto whatever small structure sits there.
      let stop: StopReason | undefined = step.stop ?? (maskArea(step.mask) < o.minAreaFraction * mainArea ? 'tip' : undefined);
      // Bridging: the object is on every slice between two of its keys, so only a lost mask stops the
      // fill, and the intensity model (of the main key, far away) does not shrink the proposals.
      if (bridge && stop && maskArea(step.mask)) stop = undefined;
      if (!stop && !bridge && step.signals) {
        const sig = step.signals;
        const drop = o.maxIoUDrop !== undefined ? predictedIoUDrop(keptSteps, sig.predictedIoU) : undefined;
        if (drop !== undefined && drop > o.maxIoUDrop!) stop = 'iou-drop';
        else if (o.steadyShrink && steadyShrink(keptSteps, sig, o.steadyShrink.slices, o.steadyShrink.ratio)) stop = 'shrinking';
      }
      let cycleIoU: number | undefined;
      // A re-anchored step is checked by its own threshold (intensityBoxMinCycleIoU) and refused as the background stop it replaced.
      const reanchorCheck = !!step.signals?.reanchored && o.intensityBoxMinCycleIoU !== undefined;
      const cycleMin = reanchorCheck ? o.intensityBoxMinCycleIoU : o.minCycleIoU;
      if (!stop && !bridge && cycleMin !== undefined) {
        // Carried back one slice, the new mask should give the mask that slice already has.
        const back = await decoder.decode(
          await zoomed.embedding(k - dir, rect),
          anchorPrompt(step.mask, w, h, 0, o.anchorPoint),
          o.useMaskInput ? step.lowRes : undefined,
        );
        const bm = keepComponentsOverlapping(binarise(back.logits, o.maskThreshold), step.mask, w, h);
        const inter = intersectionCount(bm, prev);
        cycleIoU = inter / (maskArea(bm) + maskArea(prev) - inter || 1);
        if (cycleIoU < cycleMin) stop = reanchorCheck ? 'background' : 'cycle';
      }
      if (step.signals) opts.onStep?.({ slice: k, dir, keyArea: mainArea, ...step.signals, cycleIoU, stop });
      const shownStep = step.output ?? step;
      let kept = shownStep.logits ? trimmed(shownStep.mask, shownStep.logits, o.outputThreshold) : shownStep.mask;
      // negativeClickTrim: the carry towards a negatively clicked key hands out its masks trimmed.
      if (trim && trim.t > 0 && !stop && shownStep.logits)
        kept = trimCarried(kept, shownStep.logits, trim.t, w, h, {
          ...(intensity && o.negativeClickTrim === 'gated' ? { intensity: { ...intensity, prev } } : {}),
          ...(trim.floor
            ? { minArea: trim.floor(k, maskArea(kept)) }
            : trim.ratio !== undefined
              ? { minArea: trim.ratio * maskArea(kept) }
              : {}),
        });
      if (zoomOut && !stop)
        kept = await zoomedOutput(
          k,
          kept,
          opts.zoomOutPrompt ? step.prompt : undefined,
          opts.zoomOutPrompt && o.useMaskInput ? prevLow : undefined,
        );
      opts.onSlice?.(k, stop ? undefined : kept);
      if (stop) {
        reason = stop;
        break;
      }
      masks.set(k, kept);
      if (shownStep.logits && kept === shownStep.mask && !zoomOut) fuseLogits?.set(k, shownStep.logits);
      lowResBySlice?.set(k, shownStep.lowRes);
      carriedBy.set(k, i);
      if (step.signals) keptSteps.push(step.signals);
      if (o.followIntensity && intensity && step.signals && step.signals.objectFraction >= (o.followMinObject ?? 0.75))
        current = followModel(current!, intensity.smoothed, step.mask, w, h, o.followIntensity);
      prev = step.mask;
      prevLow = step.lowRes;
    }
    // A click corrects the object near its slice: where the carry from a corrected key stops by a rule,
    // the slices beyond keep the masks they had before the click (label 20 of ct-organs: a positive
    // click on slice 2 stopped at slice 3 and 24 slices the user had not objected to were lost; the
    // next, negative, click on the same slice did it again).
    const corrected = o.keepBeyondStop && !!keys[i]!.points?.length && i !== main && opts.previousMasks;
    if (corrected && reason !== 'next-key' && reason !== 'volume-end' && reason !== 'limit') {
      for (let k = lastTried; dir < 0 ? k >= end : k <= end; k += dir) {
        if (masks.has(k)) break;
        const m = opts.previousMasks!.get(k);
        if (!m || !maskArea(m)) continue;
        masks.set(k, m);
        const low = opts.priorLowRes?.get(k);
        if (low) lowResBySlice?.set(k, low);
        opts.onSlice?.(k, m);
      }
    }
    if (dir < 0) stopsByKey[i]!.down = reason;
    else stopsByKey[i]!.up = reason;
  };
  // Outwards from the outermost keys to the volume's ends.
  const last = keys.length - 1;
  /** negativeClickTrimOutward: the trim of the carry beyond key i (undefined: none). */
  const outward = (i: number, side: ClickSide) => {
    if (!o.negativeClickTrimOutward || i === main || !decoded[i]!.trim) return undefined;
    const ratio = outwardTrimRatio(decoded[i]!.keyMask, opts.priorMasks?.get(keys[i]!.slice));
    if (ratio === undefined) return undefined;
    if (o.negativeClickTrimOutward !== 'once') return { t: decoded[i]!.trim, ratio };
    if (ratio < OUTWARD_MIN_RATIO) return undefined;
    // 'once': a new click scales each slice's mask from before it; an older key's trim is already in those masks.
    const newest = opts.newClicks?.get(keys[i]!.slice)?.has(side) ?? false;
    const floor = (k: number, untrimmed: number) => {
      const before = opts.previousMasks?.get(k);
      const had = before ? maskArea(before) : 0;
      if (!had) return ratio * untrimmed;
      return newest ? ratio * had : had;
    };
    return { t: decoded[i]!.trim, floor };
  };
  if (decoded[0]!.area) await carry(0, -1, 0, 'volume-end', false, outward(0, 'down'));
  if (decoded[last]!.area) await carry(last, 1, count - 1, 'volume-end', false, outward(last, 'up'));
  // Between two keys, the larger cross-section carries the object towards the smaller one (a key
  // without the object is a wall); the smaller then fills whatever the larger did not reach. So a
  // click near an object's end corrects that end without re-deciding the slices the main key got right.
  for (let i = 0; i < last; i++) {
    const a = decoded[i]!.area,
      b = decoded[i + 1]!.area;
    const lowerFirst = a >= b;
    const [first, second] = lowerFirst ? [i, i + 1] : [i + 1, i];
    const dir = (lowerFirst ? 1 : -1) as -1 | 1;
    // negativeClickTrim 'area': never below the straight line between the two keys' areas.
    const [sa, sb, aa, ab] = [keys[first]!.slice, keys[second]!.slice, decoded[first]!.area, decoded[second]!.area];
    const floor = o.negativeClickTrim === 'area' ? (k: number) => aa + ((ab - aa) * (k - sa)) / (sb - sa) : undefined;
    if (decoded[first]!.area)
      await carry(first, dir, sb - dir, 'next-key', false, { t: decoded[second]!.trim, ...(floor ? { floor } : {}) });
    // A click past where the larger key stopped (a missed slice outside the object's propagated extent)
    // is a second place the object is known to be: the smaller key bridges the gap (bridgeKeys).
    const bridge = o.bridgeKeys && decoded[first]!.area > 0;
    if (decoded[second]!.area) await carry(second, -dir as -1 | 1, keys[first]!.slice + dir, 'next-key', bridge);
  }
  // Through-plane fusion of what is handed out (fuseSlices): every slice from its own and its neighbours' logits.
  if (fuseLogits && o.fuseSlices && mainArea) {
    const [sx, sy, sz] = o.voxelSpacing ?? [1, 1, 1];
    const sigmaMm = o.fuseSlices * Math.sqrt((mainArea * sx * sy) / Math.PI);
    const fused = new Map<number, Uint8Array>();
    for (const k of fuseLogits.keys()) {
      const g = gaussianWeight(k, sz, sigmaMm);
      const ov = overlapWeight(masks, k);
      const weight =
        o.fuseWeight === 'overlap' ? overlapWeight(masks, k, o.fuseSlices) : o.fuseWeight === 'both' ? (j: number) => g(j) * ov(j) : g;
      fused.set(k, fusedMask(masks.get(k)!, fuseLogits, k, w, h, weight, o.maskThreshold ?? 0));
    }
    for (const [k, m] of fused) masks.set(k, m);
  }
  // A positive click's meaning reaches the slices its correction carried to (src/predictor/sam1/clickReach.ts).
  if (opts.previousMasks && o.positiveCarryAdds) {
    const carriedFrom = new Set<number>();
    for (const [k, i] of carriedBy) {
      const last = keys[i]!.points?.at(-1);
      if (i !== main && last?.label === 1) carriedFrom.add(k);
    }
    settleClickCarries(masks, carriedFrom, opts.previousMasks);
    // Those masks are unions now, no longer the decoder's answer.
    for (const k of carriedFrom) if (opts.previousMasks.get(k)) lowResBySlice?.delete(k);
  }
  return { masks, stops, priors: opts.priorMasks, main: keys[main]!.slice, ...(lowResBySlice ? { lowRes: lowResBySlice } : {}) };
}

/** zoomMode 'masks': the whole-slice propagation's extent and stops, with the zoomed propagation's mask on each slice it reached. */
async function zoomedMasks(
  decoder: Sam1Decoder,
  slices: SliceEmbeddings,
  prompts: VolumePrompt[],
  opts: Sam1PropagationOptions,
): Promise<ObjectPropagation> {
  const { onSlice, onStep, ...rest } = opts;
  const whole = await propagateObject(decoder, slices, prompts, { ...rest, onStep, zoom: 0 });
  const zoomed = await propagateObject(decoder, slices, prompts, { ...rest, zoomMode: 'propagate' });
  const masks = new Map<number, Uint8Array>();
  for (const [k, m] of [...whole.masks].sort((a, b) => a[0] - b[0])) {
    const z = zoomed.masks.get(k);
    masks.set(k, z && maskArea(z) ? z : m);
    onSlice?.(k, masks.get(k));
  }
  return { ...whole, masks };
}

/**
 * The correction path: `click` on one slice becomes (part of) a key prompt for the object (see
 * promptsWithClick) and the object is propagated again; each key owns the slices nearer to it, so
 * the click's slice and its neighbours are re-segmented from the corrected slice. The same call
 * serves simulated clicks (evaluation) and a user's clicks (sessions).
 */
export async function correctObject(
  decoder: Sam1Decoder,
  slices: SliceEmbeddings,
  prompts: readonly VolumePrompt[],
  current: ObjectPropagation,
  click: SliceClick,
  opts: Sam1PropagationOptions = {},
): Promise<{ prompts: VolumePrompt[]; propagation: ObjectPropagation }> {
  const next = promptsWithClick(prompts, click, current.masks, slices.width, slices.height);
  // Each corrected slice is refined from the mask it had when it was clicked (the latest click's).
  const priors = new Map(current.priors ?? []);
  const before = current.masks.get(click.slice);
  if (before) priors.set(click.slice, before);
  else priors.delete(click.slice);
  return {
    prompts: next,
    propagation: await propagateObject(decoder, slices, next, {
      ...opts,
      priorMasks: priors,
      mainKey: current.main,
      previousMasks: current.masks,
      newClicks: clickOnBothSides(click.slice),
      ...(current.lowRes ? { priorLowRes: current.lowRes } : {}),
    }),
  };
}

/**
 * SAM was trained on boxes and clicks in continuous image coordinates, where pixel i spans [i, i+1)
 * (COCO-style boxes from SA-1B), and scales them by the resize factor. Masks and reference boxes
 * here are inclusive pixel indices, so handed through unchanged the box's right and bottom edges sit
 * one source pixel inside the object. On a small slice (ct-organs: 122 px wide, 8.4 model px per
 * pixel) that is a whole band of the object outside the box on every step: each slice's mask comes
 * out a little smaller and shifted up-left, and propagation shrinks until it stops.
 */
export function pixelEdgeDecoder(decoder: Sam1Decoder): Sam1Decoder {
  return {
    decode: (emb, prompt, maskInput) =>
      decoder.decode(
        emb,
        {
          ...(prompt.box ? { box: [prompt.box[0], prompt.box[1], prompt.box[2] + 1, prompt.box[3] + 1] as Box } : {}),
          ...(prompt.points ? { points: prompt.points.map((p) => ({ ...p, x: p.x + 0.5, y: p.y + 0.5 })) } : {}),
        },
        maskInput,
      ),
  };
}

/** Decoder prompt built from a mask on the previous slice: an inset bounding box and/or an interior click. */
function anchorPrompt(prev: Uint8Array, w: number, h: number, inset: number, anchorPoint: boolean): Sam1Prompt {
  const b = boxFromMask(prev, w, h)!;
  const prompt: Sam1Prompt = { box: insetBox(b, inset, w, h) };
  if (anchorPoint) {
    const ip = interiorPoint(prev, w, h);
    if (ip) prompt.points = [{ x: ip.x, y: ip.y, label: 1 }];
  }
  return prompt;
}

function unionBox(a: Box, b: Box): Box {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
}

function pointsBox(points: { x: number; y: number }[]): Box {
  const xs = points.map((q) => q.x),
    ys = points.map((q) => q.y);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

function insetBox(b: Box, f: number, w: number, h: number): Box {
  // A negative inset grows the box (an object whose cross-section grows away from the key).
  const dx = f * (b[2] - b[0]),
    dy = f * (b[3] - b[1]);
  return [Math.max(0, b[0] + dx), Math.max(0, b[1] + dy), Math.min(w - 1, b[2] - dx), Math.min(h - 1, b[3] - dy)];
}

/**
 * One slice step. SAM trusts a box almost literally (a box 20% too small yields a mask ~20% too
 * small), so the previous slice's tight box overshoots wherever the object shrinks, and nothing in
 * the decoder's output says when the object has ended: handed a box, it always finds something.
 * So the decoder proposes one mask per box size (from the previous tight box down to 60% of it),
 * each pinned to the object by an interior click and the previous low-res logits (SAM's own
 * iterative-refinement input), and the key slice's intensity model picks the proposal that agrees
 * best with the image. The decoder keeps the boundaries; intensity only decides the extent.
 */
async function propagateStep(
  decoder: Sam1Decoder,
  emb: Sam1Embedding,
  prev: Uint8Array,
  prevLow: Float32Array,
  w: number,
  h: number,
  o: Resolved,
  intensity?: { model: IntensityModel; smoothed: Uint8Array },
): Promise<{
  mask: Uint8Array;
  lowRes: Float32Array;
  logits?: Float32Array;
  /** The chosen proposal's prompt (zoomMode 'output' decodes it again in a crop). */
  prompt?: Sam1Prompt;
  /** What the slice hands out when it differs from what is carried (refineMode 'output'). */
  output?: { mask: Uint8Array; lowRes: Float32Array; logits: Float32Array };
  stop?: StopReason;
  signals?: Omit<StepSignals, 'slice' | 'dir' | 'keyArea'>;
}> {
  const insets = intensity ? o.boxInsets : o.boxInsets.slice(0, 1);
  const region = intensity ? dilate(prev, w, h, intensity.model.ringRadius) : undefined;
  const prevArea = maskArea(prev);
  /** A proposal's score: its agreement with the intensity model, plus continuity with the previous mask when weighted. */
  const scored = (mask: Uint8Array, d: Sam1Decoded) => {
    const area = maskArea(mask);
    const a = intensity ? agreement(mask, intensity.smoothed, intensity.model, region!) : { dice: 1, objectFraction: 1 };
    const inter = intersectionCount(mask, prev);
    const prevIoU = inter / (area + prevArea - inter);
    return {
      mask,
      lowRes: d.lowRes,
      score: a.dice + (o.continuityWeight ?? 0) * prevIoU,
      objectFraction: a.objectFraction,
      d,
      prevIoU,
    };
  };
  let best: (ReturnType<typeof scored> & { reanchored?: boolean; prompt: Sam1Prompt }) | undefined;
  let sawRaw = false;
  const proposer = o.refineProposals ? refiningDecoder(decoder, o.refineSteps) : decoder;
  for (const inset of insets) {
    const prompt = anchorPrompt(prev, w, h, inset, o.anchorPoint);
    const d = await proposer.decode(emb, prompt, o.useMaskInput ? prevLow : undefined);
    const raw = binarise(d.logits, o.maskThreshold);
    if (maskArea(raw)) sawRaw = true;
    // Cross-sections of one object overlap from slice to slice; islands that do not touch the
    // previous mask are other structures the box happened to cover.
    let mask = keepComponentsOverlapping(raw, prev, w, h);
    if (o.leakMargin !== undefined && maskArea(mask)) {
      const grown = dilate(prev, w, h, Math.max(1, Math.round(o.leakMargin * Math.sqrt(prevArea / Math.PI))));
      mask = keepComponentsOverlapping(
        Uint8Array.from(mask, (v, i) => v & grown[i]!),
        prev,
        w,
        h,
      );
    }
    const area = maskArea(mask);
    if (!area) continue;
    if (inset < 0 && o.maxGrownRatio !== undefined && area > o.maxGrownRatio * prevArea) continue;
    const cand = { ...scored(mask, d), prompt };
    // Ties keep the larger box: shrink only when the image says so.
    if (!best || cand.score > best.score) best = cand;
  }
  // Re-anchoring on the image: the box of what the intensity model calls object here, next to the
  // previous mask (session 6's opt-in rule, the default since session 15 with its guards;
  // docs/propagation-experiments.md).
  const failing = !best || (intensity !== undefined && best.objectFraction < o.minObjectFraction);
  if (intensity && (o.intensityBox === 'propose' || (o.intensityBox === 'rescue' && failing))) {
    const extent = intensityExtent(prev, intensity.smoothed, intensity.model, region!, w, h);
    const box = maskArea(extent) ? boxFromMask(extent, w, h) : undefined;
    if (box) {
      // The click goes where this slice's object-like pixels and the previous mask agree.
      const both = Uint8Array.from(extent, (v, i) => v & prev[i]!);
      const ip = interiorPoint(maskArea(both) ? both : prev, w, h);
      const prompt: Sam1Prompt = { box, ...(o.anchorPoint && ip ? { points: [{ x: ip.x, y: ip.y, label: 1 as const }] } : {}) };
      const d = await proposer.decode(emb, prompt, o.useMaskInput ? prevLow : undefined);
      const raw = binarise(d.logits, o.maskThreshold);
      if (maskArea(raw)) sawRaw = true;
      const mask = keepComponentsOverlapping(raw, prev, w, h);
      const area = maskArea(mask);
      if (
        area &&
        (o.intensityBoxMaxRatio === undefined || area <= o.intensityBoxMaxRatio * prevArea) &&
        (o.intensityBoxMinIoU === undefined || d.iou >= o.intensityBoxMinIoU) &&
        (o.intensityBoxMinInside === undefined || intersectionCount(mask, prev) >= o.intensityBoxMinInside * area)
      ) {
        const cand = { ...scored(mask, d), reanchored: true, prompt };
        const take = o.intensityBox === 'propose' ? !best || cand.score > best.score : cand.objectFraction >= o.minObjectFraction;
        if (take) best = cand;
      }
    }
  }
  if (!best) return { mask: new Uint8Array(w * h), lowRes: prevLow, stop: sawRaw ? 'lost' : 'empty' };
  // SAM's iterative refinement of the chosen proposal (refineSteps; refineMode says whether the stop
  // rules and the next slice see it or only the output). A refinement that loses the object keeps the proposal.
  let refined: typeof best | undefined;
  if (o.refineSteps > 0 && !o.refineProposals) {
    const d = await refineDecoded(decoder, emb, best.prompt, best.d, o.refineSteps);
    const mask = keepComponentsOverlapping(binarise(d.logits, o.maskThreshold), prev, w, h);
    const cand = maskArea(mask) ? { ...scored(mask, d), reanchored: best.reanchored, prompt: best.prompt } : undefined;
    const keep = cand && (o.refineGate === 'always' || (o.refineGate === 'score' ? cand.score >= best.score : cand.d.iou >= best.d.iou));
    if (keep) refined = cand;
  }
  if (refined && o.refineMode === 'stops') best = refined;
  const area = maskArea(best.mask);
  const c1 = centroid(best.mask, w),
    c0 = centroid(prev, w);
  const signals = {
    area,
    prevArea,
    predictedIoU: best.d.iou,
    stability: stabilityScore(best.d.logits),
    objectFraction: best.objectFraction,
    prevIoU: best.prevIoU,
    insidePrev: intersectionCount(best.mask, prev) / area,
    reanchored: !!best.reanchored,
    centroidShift: Math.hypot(c1.x - c0.x, c1.y - c0.y) / Math.sqrt(prevArea / Math.PI),
  };
  const carried = refined && o.refineMode === 'carry' ? refined : best;
  const out = {
    mask: carried.mask,
    lowRes: carried.lowRes,
    logits: carried.d.logits,
    prompt: best.prompt,
    signals,
    ...(refined && o.refineMode === 'output' ? { output: { mask: refined.mask, lowRes: refined.lowRes, logits: refined.d.logits } } : {}),
  };
  // Partial-volume half-way rule: a cross-section that is more surroundings than object is past
  // the object's end (the boundary of a blurred object sits half-way between the two intensities).
  if (intensity && best.objectFraction < o.minObjectFraction) return { ...out, stop: 'background' };
  if (o.maxGrowth !== undefined && area > o.maxGrowth * prevArea) return { ...out, stop: 'leak' };
  if (o.minAreaRatio !== undefined && area < o.minAreaRatio * prevArea) return { ...out, stop: 'collapse' };
  if (o.maxCentroidShift !== undefined && signals.centroidShift > o.maxCentroidShift) return { ...out, stop: 'jump' };
  if (o.minPredictedIoU !== undefined && signals.predictedIoU < o.minPredictedIoU) return { ...out, stop: 'uncertain' };
  if (o.minStability !== undefined && signals.stability < o.minStability) return { ...out, stop: 'unstable' };
  return out;
}

/** The mask where its logits also exceed `t` (outputThreshold); the mask itself when that would be empty. */
function trimmed(mask: Uint8Array, logits: Float32Array, t: number | undefined): Uint8Array {
  if (t === undefined) return mask;
  const out = Uint8Array.from(mask, (v, i) => (v && logits[i]! > t ? 1 : 0));
  return maskArea(out) ? out : mask;
}

/** SAM's stability score: IoU of the masks thresholded at logit +1 and −1 (how sharp the boundary is). */
function stabilityScore(logits: Float32Array): number {
  let inner = 0,
    outer = 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > 1) inner++;
    if (v > -1) outer++;
  }
  return outer ? inner / outer : 0;
}

function centroid(m: Uint8Array, w: number): { x: number; y: number } {
  let sx = 0,
    sy = 0,
    n = 0;
  for (let i = 0; i < m.length; i++)
    if (m[i]) {
      sx += i % w;
      sy += Math.floor(i / w);
      n++;
    }
  return { x: sx / n, y: sy / n };
}
