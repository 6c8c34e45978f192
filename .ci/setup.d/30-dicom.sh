#!/usr/bin/env bash
# DICOM tests: dcmtk (dcmdump, transcoders dcmcjpeg/dcmcjpls/dcmcrle/dcmconv), dicom3tools (dciodvfy),
# gdcm tools (gdcmconv for JPEG 2000 / HTJ2K if supported), Orthanc + its DICOMweb plugin.
set -euo pipefail
source "$(dirname "$0")/apt.lib"
apt_install dcmtk dicom3tools libgdcm-tools orthanc orthanc-dicomweb
