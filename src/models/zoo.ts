import type { BuiltinConfigId } from './sam2/configs/builtin.js';

/**
 * Official SAM2.1 / MedSAM2 checkpoints: where they come from, which built-in config they need,
 * and their size and SHA-256 where published (null where no published checksum was found; such
 * entries are still matched by file name). Nothing is downloaded by this module.
 */
export interface ZooEntry {
  id: string;
  family: 'sam2';
  fileName: string;
  /** Bytes, or null when not published. */
  size: number | null;
  /** Lowercase hex SHA-256 of the file, or null when not published. */
  sha256: string | null;
  configId: BuiltinConfigId;
  /** Licence of the weights as stated where they are published. */
  licence: string;
  /** Licence of the upstream code the weights are used with. */
  codeLicence: string;
  url: string;
  provenance: string;
  description: string;
  recommended?: boolean;
}

const MEDSAM2_HF = 'https://huggingface.co/wanglab/MedSAM2/resolve/main';
const SAM21_DL = 'https://dl.fbaipublicfiles.com/segment_anything_2/092824';
// The wanglab/MedSAM2 Hugging Face model card is tagged cc-by-sa-4.0; the GitHub code is Apache-2.0.
const MEDSAM2_LICENCE = 'CC-BY-SA-4.0';
const MEDSAM2_PROV =
  'bowang-lab/MedSAM2 (download.sh) → Hugging Face wanglab/MedSAM2; Ma et al., "MedSAM2: Segment Anything in 3D Medical Images and Videos", arXiv:2504.03600';
const SAM21_PROV =
  'facebookresearch/sam2 checkpoints/download_ckpts.sh (SAM 2.1, 2024-09-28 release); Ravi et al., "SAM 2", arXiv:2408.00714';

function medsam2(id: string, size: number | null, sha256: string | null, description: string, recommended = false): ZooEntry {
  const fileName = `${id}.pt`;
  return {
    id,
    family: 'sam2',
    fileName,
    size,
    sha256,
    configId: 'sam2.1_hiera_t512',
    licence: MEDSAM2_LICENCE,
    codeLicence: 'Apache-2.0',
    url: `${MEDSAM2_HF}/${fileName}`,
    provenance: MEDSAM2_PROV,
    description,
    ...(recommended ? { recommended } : {}),
  };
}

function sam21(size: string, configId: BuiltinConfigId, bytes: number, sha256: string): ZooEntry {
  const fileName = `sam2.1_hiera_${size}.pt`;
  return {
    id: `sam2.1_hiera_${size}`,
    family: 'sam2',
    fileName,
    size: bytes,
    sha256,
    configId,
    licence: 'Apache-2.0',
    codeLicence: 'Apache-2.0',
    url: `${SAM21_DL}/${fileName}`,
    provenance: SAM21_PROV,
    description: `SAM 2.1 Hiera-${size} (natural images and video, 1024 px)`,
  };
}

export const SAM2_ZOO: readonly ZooEntry[] = Object.freeze([
  medsam2(
    'MedSAM2_latest',
    156_040_129,
    'c92743b99f00d078bf32a3afcc38aaa9faf1c1692dffe3eaa7a90938c1991060',
    'MedSAM2 latest: trained on public datasets plus newly annotated CT lesion, liver MRI and echo data (recommended)',
    true,
  ),
  medsam2('MedSAM2_2411', null, null, 'MedSAM2 base model trained in November 2024'),
  medsam2('MedSAM2_CTLesion', null, null, 'MedSAM2 fine-tuned for CT lesion segmentation'),
  medsam2('MedSAM2_MRI_LiverLesion', null, null, 'MedSAM2 fine-tuned for liver lesion MRI segmentation'),
  medsam2('MedSAM2_US_Heart', null, null, 'MedSAM2 fine-tuned for heart ultrasound video segmentation'),
  // Sizes and SHA-256 of the SAM 2.1 files as recorded in Git LFS pointers of Hugging Face mirrors
  // of the official release (the tiny entry matches the checksum given for the official file).
  sam21('tiny', 'sam2.1_hiera_t', 156_008_466, '7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69'),
  sam21('small', 'sam2.1_hiera_s', 184_416_285, '6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38'),
  sam21('base_plus', 'sam2.1_hiera_b+', 323_606_802, 'a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5'),
  sam21('large', 'sam2.1_hiera_l', 898_083_611, '2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318'),
]);

/** The zoo entry whose published SHA-256 (and size, when given) match a file, if any. */
export function identifyCheckpoint(sha256: string, size?: number): ZooEntry | undefined {
  const h = sha256.toLowerCase();
  return SAM2_ZOO.find((e) => e.sha256 === h && (size === undefined || e.size === null || e.size === size));
}

/** Look an entry up by id or file name (a path is reduced to its file name). */
export function findZooEntry(idOrFileName: string): ZooEntry | undefined {
  const name = idOrFileName.replace(/^.*[\\/]/, ''); // the file name of a path (either separator)
  return SAM2_ZOO.find((e) => e.id === name || e.fileName === name);
}
