import type { DicomIdentity } from './series.js';

/**
 * The Patient and General Study attributes a derived object (SEG, RTSTRUCT) copies from its source
 * series, absent values as empty (type 2) strings. dcmjs writes tags in tag order, so where these
 * are spread into a dataset does not matter.
 */
export function copiedPatientStudy(id: DicomIdentity): Record<string, string> {
  return {
    PatientName: id.PatientName ?? '',
    PatientID: id.PatientID ?? '',
    PatientBirthDate: id.PatientBirthDate ?? '',
    PatientSex: id.PatientSex ?? '',
    StudyDate: id.StudyDate ?? '',
    StudyTime: id.StudyTime ?? '',
    AccessionNumber: id.AccessionNumber ?? '',
    ReferringPhysicianName: id.ReferringPhysicianName ?? '',
    StudyID: id.StudyID ?? '',
    PositionReferenceIndicator: id.PositionReferenceIndicator ?? '',
  };
}
