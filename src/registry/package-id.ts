/**
 * The check every route applies to a name@version a person or a lockfile gives before acting
 * on it: a decision, an exemption or a status answer about something npm could never publish
 * would be recorded, signed and reported as if it meant something.
 */
import semver from 'semver';
import validateName from 'validate-npm-package-name';

/** A name npm accepts (old packages included) for a package it could serve. */
export function isPackageName(name: string): boolean {
  // scopes came after npm stopped accepting capitals: no scoped package has one
  const badCase = name.startsWith('@') && name !== name.toLowerCase();
  return validateName(name).validForOldPackages && !badCase && !name.includes('..');
}

/** Why `name@version` cannot be a published npm version; undefined when it can be. */
export function packageIdProblem(name: string, version: string): string | undefined {
  if (!isPackageName(name)) return `"${short(name)}" is not a valid package name`;
  if (semver.valid(version) === version) return undefined;
  const exact = semver.valid(version);
  return exact
    ? `"${short(version)}" is not written as npm writes versions; use ${exact}`
    : `"${short(version)}" is not an exact version (a range or a dist-tag names no one version)`;
}

function short(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
