// Where new forms start: an approval decision (as the shipped approval form) and a resource request.
export const TEMPLATES = {
  approval: {
    schema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'Approve the request',
      type: 'object',
      required: ['decision'],
      properties: {
        decision: { title: 'Decision', type: 'string', enum: ['approve', 'reject'], default: 'approve' },
        comment: { title: 'Comment', description: 'Say why when you reject.', type: ['string', 'null'], maxLength: 2000 },
      },
    },
    ui: { 'ui:order': ['decision', 'comment'], decision: { 'ui:widget': 'radio', 'ui:enumNames': ['Approve', 'Reject'] }, comment: { 'ui:widget': 'textarea', 'ui:options': { rows: 4 } } },
  },
  request: {
    schema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'Resource request',
      type: 'object',
      required: ['purpose', 'gpus'],
      properties: {
        purpose: { title: 'Purpose', type: 'string', minLength: 1, maxLength: 2000 },
        gpu_model: { title: 'GPU model', type: 'string', enum: ['A100', 'H100', 'L40S'] },
        gpus: { title: 'GPUs', type: 'integer', minimum: 1, maximum: 64 },
        start: { title: 'Needed from', type: 'string', format: 'date' },
        urgent: { title: 'Urgent', type: 'boolean', default: false },
      },
    },
    ui: { 'ui:order': ['purpose', 'gpu_model', 'gpus', 'start', 'urgent'], purpose: { 'ui:widget': 'textarea' } },
  },
};
