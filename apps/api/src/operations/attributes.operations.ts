import type { stateV1 } from '@wharf/proto';
import { compact } from '../protocol/shapes';
import {
  call,
  checkListSize,
  checkMaxResults,
  invalidParameter,
  OperationHandler,
  str,
} from './operation-context';

interface EcsAttribute {
  name: string;
  value?: string;
  targetType?: string;
  targetId?: string;
}

const toTarget = (a: EcsAttribute): stateV1.TargetAttribute => ({
  name: a.name,
  value: a.value ?? '',
  targetType: a.targetType ?? '',
  targetId: a.targetId ?? '',
});

const toEcsAttribute = (a: stateV1.TargetAttribute) =>
  compact({
    name: a.name,
    value: a.value || undefined,
    targetType: a.targetType || undefined,
    targetId: a.targetId || undefined,
  });

export const putAttributes: OperationHandler = async (input, { state }) => {
  const attributes = input.attributes as EcsAttribute[];
  checkListSize('attributes', attributes, 10);
  const res = await call(
    'state',
    state.putAttributes({ cluster: str(input.cluster), attributes: attributes.map(toTarget) }),
  );
  return { attributes: res.attributes.map(toEcsAttribute) };
};

export const deleteAttributes: OperationHandler = async (input, { state }) => {
  const attributes = input.attributes as EcsAttribute[];
  checkListSize('attributes', attributes, 10);
  const res = await call(
    'state',
    state.deleteAttributes({ cluster: str(input.cluster), attributes: attributes.map(toTarget) }),
  );
  return { attributes: res.attributes.map(toEcsAttribute) };
};

export const listAttributes: OperationHandler = async (input, { state }) => {
  if (input.attributeValue !== undefined && input.attributeName === undefined) {
    throw invalidParameter('attributeValue can only be used with attributeName.');
  }
  const res = await call(
    'state',
    state.listAttributes({
      cluster: str(input.cluster),
      targetType: str(input.targetType),
      attributeName: str(input.attributeName),
      attributeValue: str(input.attributeValue),
      maxResults: checkMaxResults(input.maxResults),
      nextToken: str(input.nextToken),
    }),
  );
  return {
    attributes: res.attributes.map(toEcsAttribute),
    ...(res.nextToken ? { nextToken: res.nextToken } : {}),
  };
};
