import { pacsSendProperties, pacsSendRequired } from './projects/projectSchemas.js';

/**
 * JSON schemas of every request and response. Fastify validates requests and serialises responses
 * with them, and @fastify/swagger builds /openapi.json from the same objects, so the document
 * cannot drift from what the server does.
 */

const int = (minimum = 0, maximum?: number) => ({ type: 'integer', minimum, ...(maximum !== undefined ? { maximum } : {}) });
const quad = {
  type: 'array',
  items: { type: 'number' },
  minItems: 4,
  maxItems: 4,
  description: '[x0, y0, x1, y1] in slice pixel indices (x = column, y = row)',
};

export const shared = [
  {
    $id: 'Error',
    type: 'object',
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: { type: 'string', description: 'one line: what is wrong' },
      fix: { type: 'string', description: 'how to fix it' },
    },
  },
  {
    $id: 'Rle',
    type: 'object',
    required: ['size', 'counts'],
    additionalProperties: false,
    description:
      'Binary mask as uncompressed COCO-style RLE in ROW-MAJOR order (x fastest; COCO itself is column-major). counts alternate runs of 0 and 1, starting with a (possibly empty) run of 0, and sum to rows*cols. Example: [[0,1,1],[1,0,0]] -> {size:[2,3], counts:[1,3,2]}.',
    properties: {
      size: { type: 'array', items: int(1), minItems: 2, maxItems: 2, description: '[rows, cols]' },
      counts: { type: 'array', items: int(0), maxItems: 16_777_216 },
    },
  },
  {
    $id: 'Upload',
    type: 'object',
    additionalProperties: false,
    required: ['id', 'sha256', 'name', 'format', 'bytes', 'dims', 'spacing', 'createdAt'],
    properties: {
      id: { type: 'string' },
      sha256: { type: 'string' },
      name: { type: 'string', description: 'the client-given name: metadata only' },
      format: { type: 'string' },
      bytes: { type: 'integer' },
      dims: { type: 'array', items: { type: 'integer' }, minItems: 3, maxItems: 3 },
      spacing: { type: 'array', items: { type: 'number' }, minItems: 3, maxItems: 3 },
      modality: { type: ['string', 'null'] },
      kind: { type: 'string', enum: ['volume', 'video'], description: 'video: dims are [width, height, frames]' },
      frames: { type: 'integer', description: 'videos: number of frames' },
      fps: { type: 'number', description: 'videos: frames per second (a zip of frames: 25)' },
      createdAt: { type: 'string' },
    },
  },
  {
    $id: 'Session',
    type: 'object',
    additionalProperties: false,
    required: [
      'id',
      'uploadId',
      'model',
      'axis',
      'status',
      'numSlices',
      'rows',
      'cols',
      'interactions',
      'redoable',
      'persisted',
      'live',
      'propagating',
      'objects',
    ],
    properties: {
      id: { type: 'string' },
      owner: { type: 'string' },
      uploadId: { type: 'string' },
      kind: { type: 'string', enum: ['volume', 'video'], description: 'video: slices are frames' },
      model: { type: 'string' },
      axis: { type: 'integer' },
      window: { type: ['string', 'null'] },
      status: { type: 'string', enum: ['open', 'closed'] },
      numSlices: { type: 'integer' },
      rows: { type: 'integer' },
      cols: { type: 'integer' },
      interactions: { type: 'integer', description: 'interactions recorded (undo included)' },
      redoable: { type: 'integer', description: 'undone interactions that POST /sessions/{id}/redo would bring back' },
      persisted: { type: 'boolean', description: 'the stored label map reflects every interaction' },
      live: { type: 'boolean', description: 'held in memory (else rebuilt from its history on next use)' },
      propagating: { type: 'boolean' },
      objects: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['objId', 'keys', 'slices'],
          properties: {
            objId: { type: 'integer' },
            name: { type: 'string', description: 'the name an annotator gave it (PATCH /sessions/{id}/objects/{objId}); absent when none' },
            axis: {
              type: 'integer',
              description: 'the axis its keys are slices of: the view it was started on (2 axial, 1 coronal, 0 sagittal)',
            },
            keys: { type: 'array', items: { type: 'integer' } },
            slices: { type: 'array', items: { type: 'integer' } },
          },
        },
      },
      createdAt: { type: 'string' },
      updatedAt: { type: 'string' },
    },
  },
  {
    $id: 'Job',
    type: 'object',
    additionalProperties: false,
    required: ['id', 'uploadId', 'model', 'status', 'progress'],
    properties: {
      id: { type: 'string' },
      kind: {
        type: 'string',
        enum: ['segment', 'segment-video', 'pre-annotate', 'export', 'send-to-pacs'],
        description: 'absent = segment (a volume); segment-video: a video upload, result at /jobs/{id}/video/{file}',
      },
      project: { type: 'string', description: 'project jobs (pre-annotate, export, send-to-pacs): the project name' },
      projectId: { type: 'string', description: 'project jobs (pre-annotate, export, send-to-pacs): the project id' },
      round: { type: 'integer', description: 'project jobs: the round (pre-annotate: when the request named one)' },
      format: { type: 'string', description: 'export: the format of the zip' },
      owner: { type: 'string' },
      uploadId: { type: 'string', description: "segment jobs' upload ('' for project jobs)" },
      model: { type: 'string' },
      status: { type: 'string', enum: ['queued', 'running', 'done', 'failed', 'cancelled'] },
      progress: { type: 'number' },
      error: { type: ['string', 'null'] },
      result: {
        type: ['object', 'null'],
        additionalProperties: false,
        properties: {
          slicesSegmented: { type: 'integer' },
          slicesEncoded: { type: 'integer' },
          seconds: { type: 'number' },
          objects: { type: 'array', items: { type: 'object', properties: { objId: { type: 'integer' }, slices: { type: 'integer' } } } },
          resumedObjects: { type: 'integer', description: 'objects taken from checkpoints of an interrupted run (not run again)' },
          cases: { type: 'integer', description: 'pre-annotate: cases stored as version 0' },
          files: { type: 'integer', description: 'export: files in the zip' },
          bytes: { type: 'integer', description: 'export: zip size' },
          round: { type: 'integer', description: 'send-to-pacs: the round' },
          pacs: { type: 'string', description: 'send-to-pacs: the PACS (its DICOMweb root, no credentials)' },
          sent: {
            type: 'array',
            description: 'send-to-pacs: the SEGs the PACS took so far, each recorded on its case',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['case', ...pacsSendRequired],
              properties: { case: { type: 'string' }, ...pacsSendProperties },
            },
          },
          skipped: {
            type: 'array',
            description: 'send-to-pacs: accepted cases not from a DICOM series, with why',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['case', 'why'],
              properties: { case: { type: 'string' }, why: { type: 'string' } },
            },
          },
          stopped: {
            type: 'boolean',
            description:
              'send-to-pacs: true once the job has ended and sends nothing more; a job cancelled while a SEG was on its way is cancelled but stopped: false until that send is recorded and listed',
          },
        },
      },
      resultUrl: { type: ['string', 'null'] },
      createdAt: { type: 'string' },
      updatedAt: { type: 'string' },
    },
  },
];

const ref = (id: string) => ({ $ref: `${id}#` });
export const errors = { '4xx': ref('Error'), '5xx': ref('Error') };
const id = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } };

/** One object's mask on one slice: what a prompt and an edit answer. */
const sliceMaskResponse = {
  type: 'object',
  additionalProperties: false,
  required: ['objId', 'slice', 'area', 'mask'],
  properties: {
    objId: { type: 'integer' },
    slice: { type: 'integer' },
    area: { type: 'integer' },
    mask: ref('Rle'),
    axis: { type: 'integer', description: 'the axis `slice` counts along' },
  },
};

const promptFields = {
  objId: int(1, 255),
  slice: int(0),
  box: quad,
  points: {
    type: 'array',
    maxItems: 256,
    items: {
      type: 'object',
      required: ['x', 'y', 'label'],
      additionalProperties: false,
      properties: { x: { type: 'number' }, y: { type: 'number' }, label: { type: 'integer', enum: [0, 1] } },
    },
  },
  mask: ref('Rle'),
  recist: { ...quad, description: 'RECIST long-axis line [x0, y0, x1, y1]' },
};

export const routes = {
  uploadCreate: {
    summary: 'Upload a volume or a video (raw request body, streamed to disk, sha256-deduplicated)',
    description:
      'Body: the file bytes (Content-Type: application/octet-stream). Formats: NIfTI (.nii/.nii.gz), NRRD, MetaImage .mha, MedSAM2 .npz, a .zip of one DICOM series, PNG/JPEG; videos: mp4/m4v/mov/avi/mkv/webm (decoded by the bundled ffmpeg) or a .zip of PNG/JPEG frames (natural name order). Videos are limited in frames and pixels (--max-slices, --max-voxels), checked before decoding. The name is metadata only.',
    querystring: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: {
          type: 'string',
          minLength: 1,
          maxLength: 255,
          description: 'original file name (metadata; its extension picks the format)',
        },
        format: { type: 'string', enum: ['nifti', 'nrrd', 'metaimage', 'npz', 'dicom-zip', 'png', 'jpeg', 'video', 'frames-zip'] },
      },
    },
    response: { 201: ref('Upload'), ...errors },
  },
  uploadList: { summary: 'Your uploads', response: { 200: { type: 'array', items: ref('Upload') }, ...errors } },
  uploadGet: { summary: 'One upload', params: id, response: { 200: ref('Upload'), ...errors } },
  sessionCreate: {
    summary: 'Start an interactive session on an upload',
    body: {
      type: 'object',
      required: ['uploadId'],
      additionalProperties: false,
      properties: {
        uploadId: { type: 'string', maxLength: 64 },
        model: { type: 'string', maxLength: 128 },
        axis: { type: 'integer', enum: [0, 1, 2] },
        window: { type: 'string', maxLength: 64, description: 'auto (default), abdomen, lung, brain, mediastinum, bone, W,L' },
      },
    },
    response: { 201: ref('Session'), ...errors },
  },
  sessionList: { summary: 'Your sessions', response: { 200: { type: 'array', items: ref('Session') }, ...errors } },
  sessionGet: {
    summary: 'A session: objects, prompted slices, slices with masks',
    params: id,
    response: { 200: ref('Session'), ...errors },
  },
  sessionClose: { summary: 'Close a session (its history and masks are kept)', params: id, response: { 200: ref('Session'), ...errors } },
  prompt: {
    summary: "Add or replace an object's prompt on a slice; returns that slice's mask at once",
    params: id,
    body: {
      type: 'object',
      required: ['objId', 'slice'],
      additionalProperties: false,
      properties: {
        ...promptFields,
        axis: {
          type: 'integer',
          enum: [0, 1, 2],
          description:
            "the axis `slice` is cut along: the view the prompt was drawn on (2 axial, 1 coronal, 0 sagittal; default the session's). A new object lives on that axis; x/y are the column/row of that slice",
        },
        replace: { type: 'boolean' },
        correction: { type: 'boolean', description: 'a correction on a slice propagation already reached' },
      },
    },
    response: {
      200: sliceMaskResponse,
      ...errors,
    },
  },
  propagate: {
    summary: 'Propagate objects through the stack',
    description:
      'With Accept: text/event-stream the response is server-sent events: `progress` {done,total,objId} while it runs, and, interleaved with it, a `mask` {objId,slice,area,mask(Rle),axis (what slice counts along: the axis of that object)} as soon as each slice is decided (again whenever its value changes during the run, e.g. SAM2 volumes when the reverse pass ORs into it; area 0 = the object is absent there; the last `mask` per slice is the final one), then `done` (the summary) — or `cancelled` / `error` {error,fix}. Otherwise the JSON summary when it finishes. A client that disconnects before its answer is complete cancels the propagation (as POST /sessions/{id}/cancel: the session stays as it was before it).',
    params: id,
    body: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: {
        objIds: { type: 'array', items: int(1, 255), maxItems: 255 },
        range: { type: 'array', items: int(0), minItems: 2, maxItems: 2 },
        direction: { type: 'string', enum: ['both', 'forward', 'backward'] },
        full: { type: 'boolean' },
      },
    },
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['objects', 'slicesEncoded', 'seconds'],
        properties: {
          objects: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                objId: { type: 'integer' },
                slicesRun: { type: 'integer' },
                stops: { type: 'array', items: { type: 'object', additionalProperties: true } },
              },
            },
          },
          slicesEncoded: { type: 'integer' },
          seconds: { type: 'number' },
        },
      },
      ...errors,
    },
  },
  cancel: {
    summary: 'Cancel a running propagation',
    params: id,
    response: { 200: { type: 'object', required: ['cancelled'], properties: { cancelled: { type: 'boolean' } } }, ...errors },
  },
  undo: {
    summary: 'Undo the last interaction',
    params: id,
    response: { 200: { type: 'object', required: ['undone'], properties: { undone: { type: 'boolean' } } }, ...errors },
  },
  redo: {
    summary: 'Redo the last undone interaction (any new interaction clears what can be redone)',
    params: id,
    response: { 200: { type: 'object', required: ['redone'], properties: { redone: { type: 'boolean' } } }, ...errors },
  },
  edit: {
    summary: "Edit an object's mask on a slice by hand (brush / eraser): literal, no model runs",
    description:
      "Exactly one of `mask` (the slice's new mask) or `stroke` (a polyline swept by a disc of `radius` pixels that sets (paint) or clears (erase) pixels of the current mask). A new objId starts an object drawn by hand. The next propagation uses the edited slice as that slice's mask prompt; a later prompt on the slice hands it back to the model. Returns the slice's mask.",
    params: id,
    body: {
      type: 'object',
      required: ['objId', 'slice'],
      additionalProperties: false,
      properties: {
        objId: int(1, 255),
        slice: int(0),
        axis: { type: 'integer', enum: [0, 1, 2], description: 'as for prompts: the view the edit was drawn on' },
        mask: ref('Rle'),
        stroke: {
          type: 'object',
          required: ['points', 'radius', 'mode'],
          additionalProperties: false,
          properties: {
            points: {
              type: 'array',
              minItems: 1,
              maxItems: 10_000,
              items: {
                type: 'object',
                required: ['x', 'y'],
                additionalProperties: false,
                properties: { x: { type: 'number' }, y: { type: 'number' } },
              },
            },
            radius: { type: 'number', minimum: 0, maximum: 256 },
            mode: { type: 'string', enum: ['paint', 'erase'] },
          },
        },
      },
    },
    response: {
      200: sliceMaskResponse,
      ...errors,
    },
  },
  removeObject: {
    summary: 'Remove an object',
    params: { type: 'object', required: ['id', 'objId'], properties: { id: { type: 'string', maxLength: 64 }, objId: int(1, 255) } },
    response: { 200: ref('Session'), ...errors },
  },
  renameObject: {
    summary: "Name an object (1-64 printable characters): listed with the session's objects and written into exports that carry names",
    params: { type: 'object', required: ['id', 'objId'], properties: { id: { type: 'string', maxLength: 64 }, objId: int(1, 255) } },
    // The name itself is checked by the route (objectNames.ts), so a bad one gets a message that says what is wrong with it.
    body: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: { name: { description: '1-64 printable characters (surrounding spaces dropped)' } },
    },
    response: { 200: ref('Session'), ...errors },
  },
  sliceMasks: {
    summary: "Each object's mask on one slice (of any of the three planes)",
    params: { type: 'object', required: ['id', 'slice'], properties: { id: { type: 'string', maxLength: 64 }, slice: int(0) } },
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        axis: {
          type: 'integer',
          enum: [0, 1, 2],
          description: "the axis `slice` is cut along, as for prompts (2 axial, 1 coronal, 0 sagittal; default the session's)",
        },
      },
    },
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['slice', 'axis', 'rows', 'cols', 'objects'],
        properties: {
          slice: { type: 'integer' },
          axis: { type: 'integer', description: 'the axis `slice` counts along' },
          rows: { type: 'integer' },
          cols: { type: 'integer' },
          objects: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['objId', 'area', 'mask'],
              properties: { objId: { type: 'integer' }, area: { type: 'integer' }, mask: ref('Rle') },
            },
          },
        },
      },
      ...errors,
    },
  },
  labelMap: {
    summary: 'The label map on the source grid (objId per voxel)',
    params: id,
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        format: {
          type: 'string',
          enum: ['nii.gz', 'nii', 'nrrd', 'npz', 'seg.dcm', 'rtstruct.dcm'],
          default: 'nii.gz',
          description:
            "seg.dcm (DICOM SEG) and rtstruct.dcm (RTSTRUCT) only for DICOM uploads; they name each segment (SegmentLabel, ROIName) by its object's name, else 'object N'",
        },
      },
    },
    response: { 200: { description: 'the label map file', type: 'string', format: 'binary' }, ...errors },
  },
  jobCreate: {
    summary: 'Submit a batch segmentation job (the work of `medsam2 segment`, or of `medsam2 video` for a video upload)',
    description:
      'For a video upload the prompts are those of a video session: `slice` is the frame, x/y its column/row, no recist or policy; the job propagates through every frame and its masks download from /jobs/{id}/video/masks.npz (also masks.zip, overlay.mp4).',
    body: {
      type: 'object',
      required: ['uploadId'],
      additionalProperties: false,
      properties: {
        uploadId: { type: 'string', maxLength: 64 },
        model: { type: 'string', maxLength: 128 },
        axis: { type: 'integer', enum: [0, 1, 2] },
        window: { type: 'string', maxLength: 64 },
        prompts: {
          type: 'array',
          minItems: 1,
          maxItems: 255,
          items: { type: 'object', required: ['slice'], additionalProperties: false, properties: promptFields },
        },
        policy: {
          type: 'string',
          enum: ['key-box', 'key-box-center', 'recist'],
          description: 'prompt from the reference mask stored in a MedSAM2 .npz (evaluation)',
        },
      },
    },
    response: { 202: ref('Job'), ...errors },
  },
  jobList: {
    summary: 'Your jobs',
    description:
      'Segmentation jobs (yours; admins and reviewers: all) and project jobs (kind pre-annotate, export or send-to-pacs, with project and projectId): yours and those of the projects you are a member of. Oldest first; with limit, the newest first, at most limit, and a Link header (rel="next") to the next page when the page is full. kind and status: repeat them or separate with commas; a value not listed here is a 400.',
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        project: {
          type: 'string',
          maxLength: 128,
          description: "a project's id or name: only its jobs (a project that does not exist: 404)",
        },
        kind: {
          type: 'array',
          maxItems: 5,
          items: { type: 'string', enum: ['segment', 'segment-video', 'pre-annotate', 'export', 'send-to-pacs'] },
          description: 'only jobs of these kinds (segment: a volume or picture)',
        },
        status: {
          type: 'array',
          maxItems: 5,
          items: { type: 'string', enum: ['queued', 'running', 'done', 'failed', 'cancelled'] },
          description: 'only jobs in these states',
        },
        limit: { type: 'integer', minimum: 1, maximum: 500, description: 'newest first, at most this many' },
        before: {
          type: 'string',
          maxLength: 64,
          description: 'with limit: the jobs older than this job (the last id of the previous page)',
        },
      },
    },
    response: { 200: { type: 'array', items: ref('Job') }, ...errors },
  },
  jobGet: { summary: 'A job and its progress', params: id, response: { 200: ref('Job'), ...errors } },
  jobCancel: {
    summary: 'Cancel a job',
    description:
      'A queued or running job. A running segmentation job (volume or video) stops between slices or frames and writes no result; a running pre-annotation stops after the case in progress (cases already done keep their version); a running PACS send stops after the SEG on its way (sent and recorded; its result says stopped: true once it has). Allowed to its owner and admins (for a project job: server admins and admins of its project); others 403, a job you cannot see 404.',
    params: id,
    response: { 200: ref('Job'), ...errors },
  },
  jobResult: {
    summary: "A finished job's label map",
    params: id,
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        format: {
          type: 'string',
          enum: ['nii.gz', 'nii', 'nrrd', 'npz', 'seg.dcm'],
          default: 'nii.gz',
          description: 'seg.dcm (DICOM SEG) only for DICOM uploads',
        },
      },
    },
    response: { 200: { description: 'the label map file', type: 'string', format: 'binary' }, ...errors },
  },
  health: {
    summary: 'Liveness',
    security: [],
    response: {
      200: {
        type: 'object',
        required: ['status'],
        properties: {
          status: { type: 'string' },
          version: { type: 'string' },
          uptimeSeconds: { type: 'number' },
          sessionsLive: { type: 'integer' },
          models: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
};
