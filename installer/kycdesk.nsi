; kycdesk's per-user Windows installer (NSIS 3.08+).
;
; Compiled by tools/build_installer.py, which passes the defines below (never by hand:
; it checks the bundle first and computes the version fields). The same script is
; compiled on Linux CI over the Linux bundle on every run (syntax and layout), and on the
; Windows workflow over the Windows bundle, where it is signed.
;
; Installed layout (docs/updates.md, "Installed layout"; docs/deploy-windows.md):
;   $INSTDIR = %LOCALAPPDATA%\Programs\kycdesk   (per user: no administrator rights)
;     kycdesk-launcher.exe       what the Start menu starts (when the build has one)
;     versions\<VERSION>\        the one-dir bundle (kycdesk.exe, _internal\...)
;     update\state.json          the launcher's pointer: which version starts
;     update\config.json         the update repository's address (when given)
;     update\metadata\root.json  the trusted TUF root (when given)
;     uninstall.exe
; Without a launcher (a plain bundle) the Start-menu entry starts versions\<VERSION>\'s
; exe directly and no update\ folder is written (updates then come by re-installing).
;
; The user's data is never under $INSTDIR: %LOCALAPPDATA%\kycdesk (cases, photos, the
; verifiers, logs) and HKCU\Software\kycdesk (settings). The uninstaller asks whether to
; keep them (silent: kept unless /REMOVEDATA is given).
;
; Defines (-D): VERSION, VI_VERSION (four numbers), BUNDLE_DIR, APP_EXE, OUTFILE;
; optional: LAUNCHER (a file), ROOT_JSON (a file), UPDATE_URL, NO_COMPRESS, SIGN_COMMAND
; (run on the installer and the uninstaller with %1 = the file: signtool's command line).

Unicode true
ManifestDPIAware true
RequestExecutionLevel user

!include MUI2.nsh
!include LogicLib.nsh
!include FileFunc.nsh

!ifndef VERSION | VI_VERSION | BUNDLE_DIR | APP_EXE | OUTFILE
  !error "compile with tools/build_installer.py (VERSION, VI_VERSION, BUNDLE_DIR, APP_EXE, OUTFILE)"
!endif

!define PRODUCT "kycdesk"
!define LAUNCHER_NAME "kycdesk-launcher.exe"
; Per-user "Apps & features" entry (HKCU: no administrator rights needed to write it).
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\kycdesk"
!define DATA_DIR "$LOCALAPPDATA\kycdesk"
!define SETTINGS_KEY "Software\kycdesk"
!define SHORTCUT "$SMPROGRAMS\kycdesk.lnk"

Name "${PRODUCT} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\kycdesk"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
BrandingText "${PRODUCT} ${VERSION}"

!ifdef NO_COMPRESS
  ; Linux CI's layout check: storing is seconds where LZMA over 200 MB is minutes.
  SetCompress off
!else
  SetCompressor /SOLID lzma
!endif

!ifdef SIGN_COMMAND
  ; Sign what is shipped: the installer after it is written, the uninstaller before it
  ; is packed into the installer (so the uninstall.exe on the tablet is signed too).
  !finalize `${SIGN_COMMAND}`
  !uninstfinalize `${SIGN_COMMAND}`
!endif

VIProductVersion "${VI_VERSION}"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${PRODUCT} installer"
VIAddVersionKey "LegalCopyright" "kycdesk contributors, Apache-2.0"

Var RemoveData

!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\${LAUNCHER_NAME}"
!ifndef LAUNCHER
  !undef MUI_FINISHPAGE_RUN
  !define MUI_FINISHPAGE_RUN "$INSTDIR\versions\${VERSION}\${APP_EXE}"
!endif
!define MUI_FINISHPAGE_RUN_TEXT "Start kycdesk"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Section "kycdesk" SecMain
  SectionIn RO
  SetShellVarContext current
  ; The same version again while it runs: its files are open and cannot be replaced.
  ; Windows refuses to rename a folder with open files in it, so that is the test.
  ${If} ${FileExists} "$INSTDIR\versions\${VERSION}\*"
    ClearErrors
    Rename "$INSTDIR\versions\${VERSION}" "$INSTDIR\versions\.check-${VERSION}"
    ${If} ${Errors}
      MessageBox MB_OK|MB_ICONEXCLAMATION \
        "kycdesk ${VERSION} is running. Close it and run the installer again." /SD IDOK
      SetErrorLevel 2
      Abort
    ${EndIf}
    Rename "$INSTDIR\versions\.check-${VERSION}" "$INSTDIR\versions\${VERSION}"
  ${EndIf}
  SetOutPath "$INSTDIR\versions\${VERSION}"
  File /r "${BUNDLE_DIR}\*"
  ; The release stamp the updater compares with (tools/release.py writes the same one);
  ; a bundle that carries its own keeps it.
  ${IfNot} ${FileExists} "$INSTDIR\versions\${VERSION}\kycdesk-release.json"
    FileOpen $0 "$INSTDIR\versions\${VERSION}\kycdesk-release.json" w
    FileWrite $0 '{"version": "${VERSION}"}$\n'
    FileClose $0
  ${EndIf}

!ifdef LAUNCHER
  SetOutPath "$INSTDIR"
  ; A running launcher (it waits for the app) cannot be overwritten but can be renamed:
  ; the new one takes its name, the old file goes at the next install or the uninstall.
  Delete "$INSTDIR\${LAUNCHER_NAME}.old"
  ${If} ${FileExists} "$INSTDIR\${LAUNCHER_NAME}"
    Rename "$INSTDIR\${LAUNCHER_NAME}" "$INSTDIR\${LAUNCHER_NAME}.old"
  ${EndIf}
  File "/oname=${LAUNCHER_NAME}" "${LAUNCHER}"
  CreateDirectory "$INSTDIR\update\metadata"
  !ifdef ROOT_JSON
    ; Only on a first install: the updater replaces it with each newer root it verifies,
    ; and an installer built before a key rotation must not put the old root back.
    ${IfNot} ${FileExists} "$INSTDIR\update\metadata\root.json"
      File "/oname=$INSTDIR\update\metadata\root.json" "${ROOT_JSON}"
    ${EndIf}
  !endif
  !ifdef UPDATE_URL
    FileOpen $0 "$INSTDIR\update\config.json.tmp" w
    FileWrite $0 '{"repository": "${UPDATE_URL}"}$\n'
    FileClose $0
    Delete "$INSTDIR\update\config.json"
    Rename "$INSTDIR\update\config.json.tmp" "$INSTDIR\update\config.json"
  !endif
  ; The pointer (docs/updates.md, "The pointer file and the launcher"), set by the launcher
  ; itself (`--adopt`, kycdesk/update/launcher.py), which never moves it backwards: the
  ; installer that came with a tablet, run again after it updated itself, keeps the newer
  ; version (whose database the older one may refuse) and the versions it refused. A newer
  ; version starts on trial (two failed starts and the launcher goes back to the last one
  ; that worked); a first install just starts it. If this fails, the pointer is left as it
  ; was (without one the launcher starts the newest complete version under versions\).
  ClearErrors
  ExecWait '"$INSTDIR\${LAUNCHER_NAME}" --adopt ${VERSION}' $3
  ${If} ${Errors}
  ${OrIf} $3 != 0
    DetailPrint "kycdesk-launcher --adopt ${VERSION} failed ($3): the pointer is unchanged"
  ${EndIf}
  StrCpy $1 "$INSTDIR\${LAUNCHER_NAME}"
!else
  StrCpy $1 "$INSTDIR\versions\${VERSION}\${APP_EXE}"
!endif

  ; The Start-menu entry of this user (SetShellVarContext current above).
  CreateShortCut "${SHORTCUT}" "$1" "" "$1" 0 SW_SHOWNORMAL "" "Capture KYC cases"

  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "kycdesk"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$1"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $2 $3
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" "$0"
SectionEnd

Function un.onInit
  ; Asked first, before anything is removed. The default keeps the data: cases not yet
  ; sent to the office exist only there. Silent (/S): kept unless /REMOVEDATA is given
  ; (IT's scripted wipe of a tablet that leaves the programme).
  StrCpy $RemoveData "no"
  ${GetParameters} $0
  ClearErrors
  ${GetOptions} $0 "/REMOVEDATA" $1
  ${IfNot} ${Errors}
    StrCpy $RemoveData "yes"
  ${ElseIfNot} ${Silent}
    MessageBox MB_YESNOCANCEL|MB_ICONQUESTION|MB_DEFBUTTON1 \
      "Keep kycdesk's data on this computer?$\r$\n$\r$\n\
Yes: keep the cases, photos and verifiers (a later install finds them again).$\r$\n\
No: remove them. Cases not yet sent to the office are lost.$\r$\n\
Cancel: do not uninstall." IDYES keep IDNO remove
    Abort
    remove:
      MessageBox MB_OKCANCEL|MB_ICONEXCLAMATION|MB_DEFBUTTON2 \
        "Remove every case and photo kept by kycdesk for this Windows user?$\r$\n\
Cases not yet sent to the office cannot be recovered." IDOK confirmed
      Abort
    confirmed:
      StrCpy $RemoveData "yes"
    keep:
  ${EndIf}
FunctionEnd

Section "Uninstall"
  SetShellVarContext current
  ; A running kycdesk holds files open under versions\: Windows then refuses to rename
  ; the folder. Checked first, so a refusal leaves the programme whole, not half removed.
  ${If} ${FileExists} "$INSTDIR\versions\*"
    ClearErrors
    Rename "$INSTDIR\versions" "$INSTDIR\versions.removing"
    ${If} ${Errors}
      MessageBox MB_OK|MB_ICONEXCLAMATION \
        "kycdesk is still running. Close it and run the uninstaller again." /SD IDOK
      SetErrorLevel 2
      Abort
    ${EndIf}
  ${EndIf}
  Delete "${SHORTCUT}"
  RMDir /r "$INSTDIR\versions.removing"
  RMDir /r "$INSTDIR\update"
  Delete "$INSTDIR\${LAUNCHER_NAME}"
  Delete "$INSTDIR\${LAUNCHER_NAME}.old"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  ${If} $RemoveData == "yes"
    RMDir /r "${DATA_DIR}"
    DeleteRegKey HKCU "${SETTINGS_KEY}"
    DetailPrint "kycdesk's data was removed."
  ${Else}
    DetailPrint "kycdesk's data was kept in ${DATA_DIR}."
  ${EndIf}
SectionEnd
