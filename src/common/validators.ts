import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min, registerDecorator, ValidateIf, ValidationOptions } from 'class-validator';

// Validation rules shared by the DTOs of several modules (contract: Conventions).

export const MIN_AMOUNT = 1;
export const MAX_AMOUNT = 100_000_000_000;
export const METADATA_MAX_KEYS = 20;
export const METADATA_MAX_KEY_LENGTH = 40;
export const METADATA_MAX_VALUE_LENGTH = 500;

const ISO_4217 = new Set(Intl.supportedValuesOf('currency').map((code) => code.toLowerCase()));

/** A run of 13-19 digits, optionally grouped by single spaces or dashes: what a card number looks like. */
const CARD_NUMBER = /(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)/;

export function looksLikeCardNumber(value: string): boolean {
  return CARD_NUMBER.test(value);
}

/** For what is logged or echoed: card-like digit runs replaced, so no log line ever holds one. */
export function maskCardNumbers(value: string): string {
  return value.replace(new RegExp(CARD_NUMBER.source, 'g'), '[card number removed]');
}

/** An API key (`sk_<merchant id>.<secret>`), wherever it stands. */
const API_KEY = /sk_[A-Za-z0-9_.~%-]+/g;
/** Query parameters whose value is a secret whatever it looks like (an admin token, a password). */
const SECRET_PARAMETER = /([?&][^=&]*(?:key|token|secret|password|auth)[^=&]*=)[^&#]*/gi;

/**
 * A URL as it may be logged: API keys, the values of secret-named query parameters and card-like
 * digit runs removed. A client that puts its key in the URL must not leave it in our logs.
 */
export function maskUrlForLog(url: string): string {
  return maskCardNumbers(url.replace(SECRET_PARAMETER, '$1[removed]').replace(API_KEY, 'sk_[removed]'));
}

/** Card data is never accepted, so it can never be stored or logged. */
export function NoCardNumber(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'noCardNumber',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: '$property must not contain a card number', ...options },
      validator: { validate: (value: unknown) => typeof value !== 'string' || !looksLikeCardNumber(value) },
    });
}

/**
 * Lowercases A-Z only. String.prototype.toLowerCase follows Unicode, which maps the Kelvin sign
 * (U+212A) to 'k' and the dotted capital I (U+0130) to 'i' + a combining dot: "case-insensitive"
 * in a code means ASCII case.
 */
export function asciiLowerCase(value: string): string {
  return value.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
}

/** A three-letter ISO 4217 code in any (ASCII) case; the DTO holds it lowercase. */
export function IsCurrency(): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? asciiLowerCase(value) : value)),
    IsString(),
    (target: object, propertyName: string | symbol) =>
      registerDecorator({
        name: 'isCurrency',
        target: target.constructor,
        propertyName: String(propertyName),
        options: { message: '$property must be a three-letter ISO 4217 currency code' },
        validator: { validate: (value: unknown) => typeof value === 'string' && ISO_4217.has(value) },
      }),
  );
}

export function metadataProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'must be an object of string values';
  const entries = Object.entries(value);
  if (entries.length > METADATA_MAX_KEYS) return `must have at most ${METADATA_MAX_KEYS} keys`;
  for (const [key, item] of entries) {
    if (key.length < 1 || key.length > METADATA_MAX_KEY_LENGTH) return `keys must be 1-${METADATA_MAX_KEY_LENGTH} characters`;
    if (typeof item !== 'string') return `value of '${maskCardNumbers(key.slice(0, 40))}' must be a string`;
    if (item.length > METADATA_MAX_VALUE_LENGTH) return `values must be at most ${METADATA_MAX_VALUE_LENGTH} characters`;
    if (looksLikeCardNumber(key) || looksLikeCardNumber(item)) return 'must not contain a card number';
  }
  return undefined;
}

/** `metadata`: at most 20 string keys of at most 40 characters, string values of at most 500. */
export function IsMetadata(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isMetadata',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: (args) => `${args.property} ${metadataProblem(args.value) ?? 'is invalid'}` },
      validator: { validate: (value: unknown) => metadataProblem(value) === undefined },
    });
}

/**
 * A field that may be left out (it then takes its default) but is not nullable: an explicit
 * `null` is validated like any other value, and so refused. (class-validator's IsOptional lets
 * null through as if absent, which made `{"amount": null}` refund everything.)
 */
export function Optional(): PropertyDecorator {
  return ValidateIf((_object: object, value: unknown) => value !== undefined);
}

/** A field that may be left out or set to null (a nullable `description` or `name`). */
export function OptionalNullable(): PropertyDecorator {
  return IsOptional();
}

/**
 * How an amount in minor units is written in the document: an integer, past int32, and (a
 * balance total aside) never past 2^53 - 1, so exact in JSON.
 */
export function amountSchema(minimum: number, maximum: number) {
  return { type: 'integer', format: 'int64', minimum, maximum } as const;
}

/** A money amount in minor units (1 to 100000000000), documented and validated in one place. */
export function AmountField(options: { optional?: boolean; description: string; example?: number }): PropertyDecorator {
  const doc = { ...amountSchema(MIN_AMOUNT, MAX_AMOUNT), description: options.description, example: options.example };
  return applyDecorators(
    ...(options.optional ? [ApiPropertyOptional(doc), Optional()] : [ApiProperty(doc)]),
    IsInt(),
    Min(MIN_AMOUNT),
    Max(MAX_AMOUNT),
  );
}

/** The optional `metadata` object of accounts and charges. */
export function MetadataField(): PropertyDecorator {
  return applyDecorators(
    ApiPropertyOptional({
      type: 'object',
      additionalProperties: { type: 'string', maxLength: METADATA_MAX_VALUE_LENGTH },
      maxProperties: METADATA_MAX_KEYS,
      description: `At most ${METADATA_MAX_KEYS} keys of at most ${METADATA_MAX_KEY_LENGTH} characters; string values of at most ${METADATA_MAX_VALUE_LENGTH}.`,
    }),
    // The object exactly as sent. Left to itself, class-transformer takes a key named `constructor`
    // for the object's class (and throws), and skips every key that names a method of
    // Object.prototype (toString, valueOf, ...): such metadata was silently dropped.
    Type(() => Object),
    Transform(({ obj, key }: { obj: Record<string, unknown>; key: string }) => obj[key]),
    Optional(),
    IsMetadata(),
  );
}
