/**
 * JSON schemas of the project routes (issue #12), in the style of ../schemas.ts: Fastify
 * validates requests and serialises responses with them and /openapi.json is built from them.
 */

const ref = (id: string) => ({ $ref: `${id}#` });
const errors = { '4xx': ref('Error'), '5xx': ref('Error') };
const int = (minimum = 0, maximum?: number) => ({ type: 'integer', minimum, ...(maximum !== undefined ? { maximum } : {}) });
const nameField = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' };
const caseField = { type: 'string', minLength: 1, maxLength: 200 };
const tags = ['projects'];

/** One SEG stored at the PACS, as recorded on its case (PacsSend; the send-to-pacs job's result lists them too). */
export const pacsSendProperties = {
  version: { type: 'integer', description: 'the label version sent' },
  sentBy: { type: 'string' },
  sentAt: { type: 'string' },
  pacs: { type: 'string', description: "the PACS's DICOMweb root (the server's --stow-url, no credentials)" },
  studyInstanceUid: { type: 'string', description: "the source series' study, where the SEG was stored" },
  seriesInstanceUid: { type: 'string', description: 'the SEG series' },
  sopInstanceUid: { type: 'string', description: 'the SEG instance' },
};
export const pacsSendRequired = Object.keys(pacsSendProperties);

const projectParams = { type: 'object', required: ['name'], properties: { name: nameField } };
const caseParams = { type: 'object', required: ['name', 'case'], properties: { name: nameField, case: caseField } };
const statusCounts = { type: 'object', additionalProperties: { type: 'integer' }, description: 'case status → number of cases' };

export const projectShared = [
  {
    $id: 'ProjectLabel',
    type: 'object',
    additionalProperties: false,
    required: ['value', 'name', 'colour', 'code'],
    properties: {
      value: int(1, 255),
      name: { type: 'string' },
      colour: { type: 'string', description: '#rrggbb' },
      code: { type: ['string', 'null'], description: 'SNOMED CT concept id where known' },
    },
  },
  {
    $id: 'Project',
    type: 'object',
    additionalProperties: false,
    required: ['name', 'labels', 'model', 'modelVersion', 'guidelines', 'idleSeconds', 'createdAt'],
    properties: {
      name: { type: 'string' },
      labels: { type: 'array', items: ref('ProjectLabel') },
      model: { type: 'string' },
      modelVersion: { type: 'string' },
      guidelines: { type: 'string' },
      idleSeconds: { type: 'number', description: 'interaction gaps are capped at this many seconds of active time' },
      createdAt: { type: 'string' },
      counts: statusCounts,
    },
  },
  {
    $id: 'ProjectCase',
    type: 'object',
    additionalProperties: false,
    required: ['name', 'status', 'assignee', 'round', 'mode', 'latestVersion', 'claimExpiresAt', 'reviewComment'],
    properties: {
      name: { type: 'string' },
      status: { type: 'string', enum: ['new', 'pre_annotated', 'in_progress', 'submitted', 'accepted', 'returned'] },
      assignee: { type: ['string', 'null'], description: 'who holds the claim' },
      round: { type: 'integer' },
      mode: { type: 'string', enum: ['assisted', 'manual'] },
      latestVersion: { type: 'integer', description: '-1 while the case has no label version' },
      claimExpiresAt: { type: ['string', 'null'] },
      reviewComment: { type: ['string', 'null'] },
      submittedBy: { type: ['string', 'null'] },
      reviewedBy: { type: ['string', 'null'] },
      uploadId: { type: ['string', 'null'], description: 'the upload the case image came from' },
      sourceFormat: {
        type: ['string', 'null'],
        description:
          "the upload's format (dicom-zip, nifti, png, …; in a case's own JSON, null in lists): a dicom-zip case exports as DICOM SEG",
      },
      dims: { type: 'array', items: { type: 'integer' }, minItems: 3, maxItems: 3 },
      spacing: { type: 'array', items: { type: 'number' }, minItems: 3, maxItems: 3 },
      updatedAt: { type: 'string' },
    },
  },
  {
    $id: 'PacsSend',
    type: 'object',
    additionalProperties: false,
    required: [...pacsSendRequired],
    properties: {
      ...pacsSendProperties,
      jobId: { type: 'string', description: 'the send-to-pacs job (round send) that sent it; absent for a version sent by itself' },
    },
  },
  {
    $id: 'LabelVersion',
    type: 'object',
    additionalProperties: false,
    required: ['version', 'author', 'authorKind', 'createdAt', 'voxels'],
    properties: {
      version: { type: 'integer' },
      author: { type: 'string', description: 'a person, or model@version' },
      authorKind: { type: 'string', enum: ['person', 'model'] },
      createdAt: { type: 'string' },
      voxels: { type: 'integer', description: 'foreground voxels' },
      note: { type: ['string', 'null'] },
      restoredFrom: { type: ['integer', 'null'] },
    },
  },
];

const accepted = {
  type: 'object',
  additionalProperties: false,
  required: ['jobId'],
  properties: { jobId: { type: 'string' }, statusUrl: { type: 'string' } },
};
const binary = { description: 'file bytes', type: 'string', format: 'binary' };
const caseOut = { 200: ref('ProjectCase'), ...errors };

export const projectRoutes = {
  create: {
    tags,
    summary: 'Create an annotation project (server admins)',
    body: {
      type: 'object',
      required: ['name', 'labels'],
      additionalProperties: false,
      properties: {
        name: nameField,
        labels: {
          type: 'array',
          minItems: 1,
          maxItems: 255,
          items: {
            type: 'object',
            required: ['value', 'name'],
            additionalProperties: false,
            properties: {
              value: int(1, 255),
              name: { type: 'string', minLength: 1, maxLength: 64 },
              colour: { type: 'string', pattern: '^#[0-9a-fA-F]{6}$' },
              code: { type: 'string', pattern: '^[0-9]{6,18}$' },
            },
          },
        },
        model: { type: 'string', maxLength: 128, description: 'default: the server default model' },
        modelVersion: { type: 'string', maxLength: 64 },
        guidelines: { type: 'string', maxLength: 20000 },
        idleSeconds: { type: 'number', minimum: 0.001, maximum: 86400 },
      },
    },
    response: { 201: ref('Project'), ...errors },
  },
  list: {
    tags,
    summary: 'Projects you are a member of, with case counts by status',
    response: { 200: { type: 'array', items: ref('Project') }, ...errors },
  },
  get: {
    tags,
    summary: 'A project: members, counts by status and by person, rounds',
    params: projectParams,
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['project', 'members', 'counts', 'rounds'],
        properties: {
          project: ref('Project'),
          members: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'role'],
              properties: { name: { type: 'string' }, role: { type: 'string' } },
            },
          },
          counts: {
            type: 'object',
            additionalProperties: false,
            required: ['byStatus', 'byPerson'],
            properties: {
              byStatus: statusCounts,
              byPerson: { type: 'object', additionalProperties: statusCounts, description: 'person → status → cases' },
            },
          },
          rounds: { type: 'array', items: { type: 'integer' } },
          pacs: { type: ['string', 'null'], description: 'the PACS Send to PACS stores at (null: none configured on this server)' },
          myRole: { type: ['string', 'null'], description: "the caller's role in the project" },
        },
      },
      ...errors,
    },
  },
  setMember: {
    tags,
    summary: "Add a member or change a member's role (project admins)",
    params: { type: 'object', required: ['name', 'user'], properties: { name: nameField, user: nameField } },
    body: {
      type: 'object',
      required: ['role'],
      additionalProperties: false,
      properties: { role: { type: 'string', enum: ['annotator', 'reviewer', 'admin', 'viewer'] } },
    },
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'role'],
        properties: { name: { type: 'string' }, role: { type: 'string' } },
      },
      ...errors,
    },
  },
  addCases: {
    tags,
    summary: 'Add cases from your uploads (project admins)',
    params: projectParams,
    body: {
      type: 'object',
      required: ['uploadIds'],
      additionalProperties: false,
      properties: {
        uploadIds: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', maxLength: 64 } },
        round: int(1),
        mode: { type: 'string', enum: ['assisted', 'manual'] },
      },
    },
    response: { 201: { type: 'array', items: ref('ProjectCase') }, ...errors },
  },
  listCases: {
    tags,
    summary: 'Cases, filtered by status, assignee and round',
    params: projectParams,
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        status: { type: 'string', enum: ['new', 'pre_annotated', 'in_progress', 'submitted', 'accepted', 'returned'] },
        assignee: { type: 'string', maxLength: 64 },
        round: int(1),
      },
    },
    response: { 200: { type: 'array', items: ref('ProjectCase') }, ...errors },
  },
  preAnnotate: {
    tags,
    summary: "Pre-annotate the round's new assisted cases as a server job (version 0 of each)",
    params: projectParams,
    body: {
      type: 'object',
      required: ['source'],
      additionalProperties: false,
      properties: {
        round: int(1),
        source: {
          type: 'string',
          enum: ['recist', 'boxes', 'label', 'previous', 'auto'],
          description:
            "recist: the npz RECIST marks (else measured on its label); label: the key-slice box of the label the case carries; boxes: the `boxes` list; previous: an earlier round's accepted label; auto: recist",
        },
        boxes: {
          type: 'object',
          description: 'case name → [{slice, box}] (source boxes)',
          additionalProperties: {
            type: 'array',
            maxItems: 255,
            items: {
              type: 'object',
              required: ['slice', 'box'],
              additionalProperties: false,
              properties: { slice: int(0), box: { type: 'array', items: { type: 'number' }, minItems: 4, maxItems: 4 } },
            },
          },
        },
        modelVersion: { type: 'string', maxLength: 64, description: "default: the project's model version" },
        label: { ...int(1, 255), description: "label value written (default: the project's first label)" },
      },
    },
    response: { 202: accepted, ...errors },
  },
  next: {
    tags,
    summary: 'Claim the next case of your queue (204 when it is empty)',
    params: projectParams,
    body: { type: ['object', 'null'], additionalProperties: false, properties: { round: int(1) } },
    response: { 200: ref('ProjectCase'), 204: { type: 'null', description: 'the queue is empty' }, ...errors },
  },
  claim: { tags, summary: 'Claim a case (409 when someone else holds it)', params: caseParams, response: caseOut },
  getCase: {
    tags,
    summary: 'A case with its versions and interaction summary',
    params: caseParams,
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['case', 'versions', 'interactions'],
        properties: {
          case: ref('ProjectCase'),
          versions: { type: 'array', items: ref('LabelVersion') },
          pacs: { type: ['string', 'null'], description: 'the PACS Send to PACS stores at (null: none configured on this server)' },
          pacsSends: { type: 'array', items: ref('PacsSend'), description: "the case's versions sent to a PACS, oldest first" },
          interactions: {
            type: 'object',
            additionalProperties: false,
            required: ['count', 'activeSeconds', 'slicesTouched', 'byPerson'],
            properties: {
              count: { type: 'integer' },
              activeSeconds: { type: 'number', description: 'per person, summed (gaps capped at idleSeconds)' },
              slicesTouched: { type: 'integer' },
              byPerson: {
                type: 'object',
                additionalProperties: {
                  type: 'object',
                  additionalProperties: false,
                  properties: { count: { type: 'integer' }, activeSeconds: { type: 'number' }, slicesTouched: { type: 'integer' } },
                },
              },
            },
          },
        },
      },
      ...errors,
    },
  },
  volume: { tags, summary: "The case's image bytes as uploaded", params: caseParams, response: { 200: binary, ...errors } },
  displayVolume: {
    tags,
    summary: "The case's image as the server reads it, as a NIfTI-1 (.nii.gz) for display",
    description:
      'The voxels, spacing, origin and direction that a session on the case segments and its label versions are stored on, whatever the upload was (a DICOM series zip, PNG, JPEG, NIfTI, NRRD, MHA, npz): what the project pages draw. Same bytes as GET /uploads/{id}/volume.nii.gz; ETag + If-None-Match give 304.',
    params: caseParams,
    response: {
      200: { description: 'gzip-compressed NIfTI-1', type: 'string', format: 'binary' },
      304: { description: 'not modified (If-None-Match matched the ETag)', type: 'null' },
      ...errors,
    },
  },
  labelMap: {
    tags,
    summary: 'A label version on the source geometry',
    params: {
      type: 'object',
      required: ['name', 'case', 'v'],
      properties: { name: nameField, case: caseField, v: int(0) },
    },
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        format: {
          type: 'string',
          enum: ['nifti', 'nrrd', 'npz', 'dicom-seg'],
          default: 'nifti',
          description: "dicom-seg (a DICOM SEG referencing the series, segments = the project's labels) only for a DICOM-sourced case",
        },
      },
    },
    response: { 200: binary, ...errors },
  },
  sendToPacs: {
    tags,
    summary: "Send a DICOM case's label version to the server's PACS as a DICOM SEG (STOW-RS; reviewers)",
    description:
      "The SEG the version download gives (?format=dicom-seg), stored into the source series' study at the PACS the server was started with (--stow-url); the send is recorded on the case (GET …/cases/{case} pacsSends). 409: the case is not a DICOM series, or no PACS is configured; 502: the PACS refused the SEG or cannot be reached.",
    params: {
      type: 'object',
      required: ['name', 'case', 'v'],
      properties: { name: nameField, case: caseField, v: int(0) },
    },
    response: { 200: ref('PacsSend'), ...errors },
  },
  sendRoundToPacs: {
    tags,
    summary: "Send a round's accepted labels to the server's PACS as DICOM SEGs, as a job (STOW-RS; reviewers)",
    description:
      "Starts a project job (kind send-to-pacs; GET /jobs/{id} for progress, DELETE /jobs/{id} cancels it): one SEG per accepted case from a DICOM series (its accepted version), as POST …/versions/{v}/send-to-pacs does, each recorded on its case as it is sent. The job's result lists round, pacs, sent and skipped (other cases, with why) from the first case on, so a cancel or a failure (the PACS refused a SEG or cannot be reached: the job fails with that line) keeps the cases sent before it sent, recorded and listed. 409: no accepted case from a DICOM series, or no PACS configured.",
    params: projectParams,
    body: { type: 'object', required: ['round'], additionalProperties: false, properties: { round: int(1) } },
    response: { 202: accepted, ...errors },
  },
  session: {
    tags,
    summary: 'Start an interactive session on the case (then use /sessions/{id}/*); save it with POST …/versions {sessionId}',
    params: caseParams,
    body: { type: ['object', 'null'], additionalProperties: false, properties: { model: { type: 'string', maxLength: 128 } } },
    response: {
      201: {
        type: 'object',
        additionalProperties: false,
        required: ['sessionId', 'baseVersion'],
        properties: {
          sessionId: { type: 'string' },
          baseVersion: { type: 'integer', description: 'the version the session starts from (send it back when saving)' },
        },
      },
      ...errors,
    },
  },
  saveVersion: {
    tags,
    summary: 'Save a new label version (409 when baseVersion is not the latest)',
    description:
      "Either sessionId (the session's masks replace, slice by slice, what the base version has for each object the session holds; every other voxel keeps the base version) or labelsRle: the whole label map of one label as one Rle over the volume seen as (z*y) rows x x cols (x fastest), dims [x, y, z].",
    params: caseParams,
    body: {
      type: 'object',
      required: ['baseVersion'],
      additionalProperties: false,
      properties: {
        baseVersion: int(-1),
        sessionId: { type: 'string', maxLength: 64 },
        labelsRle: {
          type: 'object',
          required: ['dims', 'rle'],
          additionalProperties: false,
          properties: {
            dims: { type: 'array', items: int(1), minItems: 3, maxItems: 3 },
            rle: ref('Rle'),
            label: { ...int(1, 255), description: "value of the foreground voxels (default the project's first label)" },
          },
        },
        note: { type: 'string', maxLength: 2000 },
      },
    },
    response: { 201: ref('LabelVersion'), ...errors },
  },
  interactions: {
    tags,
    summary: 'Log interactions of the person holding the case (active time is computed from them)',
    params: caseParams,
    body: {
      type: 'object',
      required: ['events'],
      additionalProperties: false,
      properties: {
        events: {
          type: 'array',
          minItems: 1,
          maxItems: 10000,
          items: {
            type: 'object',
            required: ['tool', 't'],
            additionalProperties: false,
            properties: {
              tool: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$' },
              slice: { type: ['integer', 'null'], minimum: 0 },
              t: { type: 'number', minimum: 0, description: 'epoch milliseconds' },
            },
          },
        },
      },
    },
    response: { 204: { type: 'null' }, ...errors },
  },
  submit: { tags, summary: 'Submit the case for review', params: caseParams, response: caseOut },
  review: {
    tags,
    summary: 'Accept or return a submitted case (reviewers; return needs a comment)',
    params: caseParams,
    body: {
      type: 'object',
      required: ['verdict'],
      additionalProperties: false,
      properties: { verdict: { type: 'string', enum: ['accept', 'return'] }, comment: { type: 'string', maxLength: 4000 } },
    },
    response: caseOut,
  },
  diff: {
    tags,
    summary: 'DSC and volume change between two versions (b relative to a)',
    params: caseParams,
    querystring: { type: 'object', required: ['a', 'b'], additionalProperties: false, properties: { a: int(0), b: int(0) } },
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['a', 'b', 'dsc', 'volumeChangeMl', 'voxelsA', 'voxelsB', 'mlA', 'mlB', 'volumeChangePct'],
        properties: {
          a: { type: 'integer' },
          b: { type: 'integer' },
          dsc: { type: 'number' },
          volumeChangeMl: { type: 'number' },
          volumeChangePct: { type: ['number', 'null'] },
          voxelsA: { type: 'integer' },
          voxelsB: { type: 'integer' },
          mlA: { type: 'number' },
          mlB: { type: 'number' },
        },
      },
      ...errors,
    },
  },
  restore: {
    tags,
    summary: 'Restore an old version as a new one (nothing is rewritten)',
    params: caseParams,
    body: {
      type: 'object',
      required: ['version', 'baseVersion'],
      additionalProperties: false,
      properties: { version: int(0), baseVersion: int(0) },
    },
    response: { 201: ref('LabelVersion'), ...errors },
  },
  report: {
    tags,
    summary: 'The project report (as `medsam2 project report` writes report.json)',
    params: projectParams,
    response: { 200: { type: 'object', additionalProperties: true }, ...errors },
  },
  reportHtml: {
    tags,
    summary: 'The project report as an HTML page',
    params: projectParams,
    response: { 200: { type: 'string' }, ...errors },
  },
  export: {
    tags,
    summary: "Export a round's accepted labels as a training set (a zip at GET /jobs/{jobId}/result)",
    params: projectParams,
    body: {
      type: 'object',
      required: ['round'],
      additionalProperties: false,
      properties: {
        round: int(1),
        format: {
          type: 'string',
          enum: ['medsam2-npz', 'nifti', 'dicom-seg'],
          default: 'medsam2-npz',
          description:
            'dicom-seg: one <case>.seg.dcm per accepted DICOM-sourced case; other cases are listed as skipped in manifest.json (409 when none is DICOM)',
        },
      },
    },
    response: { 202: accepted, ...errors },
  },
};
